"""Admin for notes: list, search, filter by owner."""

from django.contrib import admin

from .models import Note


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "updated", "created")
    list_filter = (("owner", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("title", "body", "owner__username")
    list_select_related = ("owner",)
    autocomplete_fields = ("owner",)
    readonly_fields = ("key", "created", "updated")
    date_hierarchy = "updated"

"""Admin: tool policy overrides (editable) and the audit trail (read-only)."""

from django.contrib import admin

from .models import AuditRecord, ToolPolicy


@admin.register(ToolPolicy)
class ToolPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "enabled", "scopes", "roles", "updated"]
    list_filter = ["enabled"]
    search_fields = ["name"]


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    list_display = ["created", "kind", "name", "outcome", "subject", "username", "client_id", "duration_ms"]
    list_filter = ["outcome", "kind", "protocol_version"]
    search_fields = ["name", "subject", "username", "client_id"]
    date_hierarchy = "created"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

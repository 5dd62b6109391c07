"""Admin for users, roles, scopes, client scope ceilings and signing keys. Actions call module functions."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from oauth2_provider.admin import ApplicationAdmin as DOTApplicationAdmin

from . import keys
from .models import ClientPolicy, Role, Scope, SigningKey, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Roles", {"fields": ("roles",)}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("Roles", {"fields": ("roles",)}))
    filter_horizontal = (*DjangoUserAdmin.filter_horizontal, "roles")
    list_display = ("username", "email", "is_active", "is_staff", "role_list")
    list_filter = (*DjangoUserAdmin.list_filter, "roles")

    @admin.display(description="roles")
    def role_list(self, obj: User) -> str:
        return ", ".join(role.name for role in obj.roles.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("roles")


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("name", "description", "scope_list")
    search_fields = ("name",)
    filter_horizontal = ("scopes",)

    @admin.display(description="scopes")
    def scope_list(self, obj: Role) -> str:
        return " ".join(scope.name for scope in obj.scopes.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("scopes")


@admin.register(Scope)
class ScopeAdmin(admin.ModelAdmin):
    list_display = ("name", "description", "is_default")
    list_editable = ("is_default",)
    search_fields = ("name", "description")


class ClientPolicyInline(admin.StackedInline):
    model = ClientPolicy
    can_delete = False
    filter_horizontal = ("scopes",)
    verbose_name = "scope ceiling"
    verbose_name_plural = "scope ceiling"


class ApplicationAdmin(DOTApplicationAdmin):
    """DOT's application admin (DOT's APPLICATION_ADMIN_CLASS hook) with the scope ceiling inline."""

    inlines = [ClientPolicyInline]
    list_display = ("name", "client_id", "client_type", "authorization_grant_type", "registration_source")


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    list_display = ("kid", "algorithm", "created", "retired_at", "status")
    readonly_fields = ("kid", "algorithm", "public_jwk", "created", "retired_at")
    fields = readonly_fields
    actions = ["rotate"]

    @admin.display(description="status")
    def status(self, obj: SigningKey) -> str:
        return "retired" if obj.retired_at else "active"

    @admin.action(description="Rotate: make a new signing key current")
    def rotate(self, request, queryset):
        key = keys.rotate()
        self.message_user(request, f"New signing key {key.kid} is current; older keys keep verifying.", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        """A key that may still verify a live token stays: deleting it would break those tokens."""
        verifying = SigningKey.objects.verifying(keys.max_token_lifetime())
        if obj is not None and verifying.filter(pk=obj.pk).exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # bulk delete would not ask has_delete_permission per key
        return actions

"""Admin: tool policy overrides (editable), the audit trail and MCP tasks (read-only)."""

from django import forms
from django.apps import apps
from django.contrib import admin

from .models import AuditRecord, McpTask, ToolPolicy


@admin.register(ToolPolicy)
class ToolPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "enabled", "scopes", "roles", "updated"]
    list_filter = ["enabled"]
    search_fields = ["name"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "name":  # choose among the registered tools
            names = [tool.name for tool in apps.get_app_config("mcpserver").registry.all("tool")]
            kwargs["widget"] = forms.Select(choices=[(name, name) for name in names])
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    list_display = [
        "created", "kind", "name", "outcome", "detail", "subject", "username", "client_id", "duration_ms",
    ]  # fmt: skip
    list_filter = ["outcome", "kind", "protocol_version"]
    search_fields = ["name", "subject", "username", "client_id"]
    date_hierarchy = "created"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(McpTask)
class McpTaskAdmin(admin.ModelAdmin):
    """Who runs what and where it is; never the arguments, answers or result (the caller's data)."""

    list_display = ["id", "tool", "status", "subject", "client_id", "created", "updated", "expires_at"]
    list_filter = ["status", "tool"]
    search_fields = ["id", "tool", "subject", "client_id"]
    fields = [
        "id", "tool", "status", "status_message", "subject", "client_id", "issuer", "created", "updated",
    ]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

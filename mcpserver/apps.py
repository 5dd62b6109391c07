"""App configuration for the MCP resource server."""

from django.apps import AppConfig


class McpserverConfig(AppConfig):
    name = "mcpserver"
    verbose_name = "MCP server"
    default_auto_field = "django.db.models.BigAutoField"

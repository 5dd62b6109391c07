"""App configuration: registers the capabilities, the system checks and signal receivers at start-up."""

from django.apps import AppConfig


class McpserverConfig(AppConfig):
    name = "mcpserver"
    verbose_name = "MCP server"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, policies  # noqa: F401  (registers the system checks)
        from .registry import build_registry

        policies.connect()
        self.registry = build_registry()

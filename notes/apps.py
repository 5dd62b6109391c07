"""App configuration for the example notes app."""

from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "notes"
    verbose_name = "Notes (example app)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import notifications

        notifications.connect()  # a changed note notifies the MCP sessions subscribed to it

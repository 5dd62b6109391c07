"""App configuration for the example notes app."""

from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "notes"
    verbose_name = "Notes (example app)"
    default_auto_field = "django.db.models.BigAutoField"

"""A saved or deleted note tells the MCP sessions subscribed to its resource, ``notes://<key>``."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from mcpserver.notifications import resource_updated

from .models import Note


def note_changed(sender, instance: Note, **kwargs) -> None:
    resource_updated(uri(instance))


def uri(note: Note) -> str:
    return f"notes://{note.key}"


def connect() -> None:
    post_save.connect(note_changed, sender=Note, dispatch_uid="notes-resource-updated-saved")
    post_delete.connect(note_changed, sender=Note, dispatch_uid="notes-resource-updated-deleted")

"""Notes: a title and a body, owned by one user; who may read and change which notes."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from . import search

# Holders of this role read every note (a token's ``roles`` claim names the same roles).
ADMIN_ROLE = "admin"


class NoteQuerySet(models.QuerySet):
    def visible_to(self, user) -> NoteQuerySet:
        """The notes ``user`` may read: their own, or every note for a holder of ``ADMIN_ROLE``.

        Nobody's notes for an anonymous user or ``None``.
        """
        if user is None or not user.is_authenticated:
            return self.none()
        if user.has_role(ADMIN_ROLE):
            return self.all()
        return self.filter(owner=user)

    def owned_by(self, user) -> NoteQuerySet:
        """The notes ``user`` may change: their own (an admin reads every note but edits only theirs)."""
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)

    def search(self, text: str) -> NoteQuerySet:
        """The notes matching every word of ``text``, best match first; all of them, newest first,
        for blank text. Full-text search on PostgreSQL, word containment elsewhere (``notes.search``)."""
        return search.matching(self, text)

    def get_by_natural_key(self, key: str) -> Note:
        return self.get(key=key)


class Note(models.Model):
    key = models.UUIDField(
        default=uuid.uuid4, unique=True, editable=False, help_text="The note's public, stable identifier."
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notes")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(auto_now=True)

    objects = NoteQuerySet.as_manager()

    class Meta:
        ordering = ["-updated", "-id"]
        indexes = [models.Index(fields=["owner", "-updated"], name="notes_owner_updated")]

    def __str__(self) -> str:
        return self.title

    def natural_key(self) -> tuple[str]:
        return (str(self.key),)

    natural_key.dependencies = [settings.AUTH_USER_MODEL.lower()]

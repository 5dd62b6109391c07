"""Fixtures for the example notes app: users with and without the admin role, and a note factory."""

from __future__ import annotations

import pytest


@pytest.fixture
def people(make_user):
    """``alice`` and ``bob`` (role ``user``), ``root`` (role ``admin``), ``staff`` (superuser, no role)."""
    from authserver.models import Role

    for name in ("admin", "user"):
        Role.objects.create(name=name)
    return {
        "alice": make_user("alice", roles=["user"]),
        "bob": make_user("bob", roles=["user"]),
        "root": make_user("root", roles=["admin"]),
        "staff": make_user("staff", is_staff=True, is_superuser=True),
    }


@pytest.fixture
def make_note(db):
    from notes.models import Note

    def make(owner, title: str, body: str = "") -> Note:
        return Note.objects.create(owner=owner, title=title, body=body)

    return make

"""The example app's MCP capabilities, written the way ``docs/authoring.md`` tells a project to write its
own: typed functions, found at start-up because this module is the app's ``mcp.py``.

Who sees what is the model's rule (``Note.objects.visible_to``: your own notes, every note for the
``admin`` role); who may change what is ``owned_by`` (your own notes only). Reading needs ``mcp:read``
(resources) or ``mcp:read`` with ``mcp:tools`` (the search tool); writing needs ``mcp:tools`` and the
``user`` role. A note the caller may not see is answered as not found, whether it exists or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from django.core.exceptions import ValidationError
from pydantic import Field

from mcpserver.registry import NotFound, prompt, resource, tool

from .models import Note

Title = Annotated[str, Field(min_length=1, max_length=200)]
Body = Annotated[str, Field(max_length=20_000)]


@dataclass
class NoteOut:
    key: UUID
    title: str
    body: str
    owner: str
    updated: datetime


@dataclass
class SearchResult:
    notes: list[NoteOut]
    more: bool


def _out(note: Note) -> NoteOut:
    return NoteOut(note.key, note.title, note.body, note.owner.get_username(), note.updated)


def _visible(ctx):
    return Note.objects.visible_to(ctx.user).select_related("owner")


def _own(ctx, key: UUID) -> Note:
    note = Note.objects.owned_by(ctx.user).select_related("owner").filter(key=key).first()
    if note is None:
        raise NotFound(f"note {key}")
    return note


@tool(
    scopes=["mcp:read"],
    title="Search notes",
    annotations={"readOnlyHint": True, "openWorldHint": False},
)
def search_notes(ctx, text: str = "", limit: Annotated[int, Field(ge=1, le=50)] = 10) -> SearchResult:
    """Search the notes you may read, newest or best match first.

    Args:
        text: Words that must all appear; "a phrase" in quotes, -word to exclude. Empty: every note.
        limit: At most this many notes.
    """
    found = list(_visible(ctx).search(text)[: limit + 1])
    return SearchResult([_out(note) for note in found[:limit]], more=len(found) > limit)


@tool(roles=["user", "admin"], title="Create a note", annotations={"openWorldHint": False})
def create_note(ctx, title: Title, body: Body = "") -> NoteOut:
    """Create a note of your own.

    Args:
        title: The note's title.
        body: Its text.
    """
    if ctx.user is None:  # a client's own token: nobody to own the note
        raise NotFound("a user to own the note")
    note = Note.objects.create(owner=ctx.user, title=title, body=body)
    return _out(note)


@tool(
    roles=["user", "admin"],
    title="Edit a note",
    annotations={"idempotentHint": True, "openWorldHint": False},
)
def edit_note(ctx, key: UUID, title: Title | None = None, body: Body | None = None) -> NoteOut:
    """Change the title or the text of one of your notes (what you leave out stays as it is).

    Args:
        key: The note's key, as search_notes gives it.
        title: A new title.
        body: A new text.
    """
    note = _own(ctx, key)
    if title is not None:
        note.title = title
    if body is not None:
        note.body = body
    note.save()
    return _out(note)


def _keys_of_my_notes(ctx, value: str) -> list[str]:
    keys = _visible(ctx).order_by("-updated").values_list("key", flat=True)[:500]
    return [str(key) for key in keys if str(key).startswith(value)]


@resource(
    "notes://{key}",
    name="note",
    title="A note",
    mime_type="text/markdown",
    complete={"key": _keys_of_my_notes},
)
def note(ctx, key: str) -> str:
    """One note you may read, as Markdown."""
    try:
        found = _visible(ctx).filter(key=key).first()
    except ValidationError:  # not a UUID: no such note
        found = None
    if found is None:
        raise NotFound(f"note {key}")
    return f"# {found.title}\n\n{found.body}\n"


@prompt(title="Summarise notes")
def summarise_notes(ctx, text: str = "", style: Literal["bullets", "paragraph"] = "bullets") -> str:
    """Ask the model to summarise the notes you may read that match a search.

    Args:
        text: The search, as search_notes takes it (empty: every note).
        style: Bullet points or one paragraph.
    """
    notes = list(_visible(ctx).search(text)[:20])
    if not notes:
        return f"There are no notes matching {text!r}: say so, and suggest another search."
    listing = "\n\n".join(f"## {note.title}\n{note.body}" for note in notes)
    shape = "a short bulleted list" if style == "bullets" else "one short paragraph"
    return f"Summarise these notes in {shape}:\n\n{listing}"

"""A test-only capability module in the type-hint style: tools, a prompt and a resource template whose
schemas, validation, completions and object-level checks come from their signatures."""

from __future__ import annotations

import dataclasses
import enum
from typing import Annotated, Literal, TypedDict

from pydantic import BaseModel, Field

from mcpserver.registry import NotFound, prompt, resource, tool


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


class Tag(TypedDict):  # the standard library's: rebuilt for pydantic below Python 3.12
    name: str


class Note(BaseModel):
    id: int
    title: str
    owner: str


NOTES = {
    1: Note(id=1, title="Groceries", owner="alice"),
    2: Note(id=2, title="Secret plan", owner="bob"),
    12: Note(id=12, title="Garden", owner="alice"),
}


@tool(annotations={"readOnlyHint": True})
def plan(
    ctx,
    title: str,
    priority: Priority = Priority.LOW,
    where: Point | None = None,
    tags: list[Tag] | None = None,
    mode: Literal["draft", "final"] = "draft",
    limit: Annotated[int, Field(ge=1, le=10)] = 3,
) -> dict[str, str]:
    """Plan something and say what was understood.

    Args:
        title: What to plan.
        priority: How urgent it is.
        where: Where it happens.
    """
    return {
        "title": title,
        "priority": repr(priority),
        "where": repr(where),
        "tags": repr(tags),
        "mode": mode,
        "limit": repr(limit),
    }


@tool()
def count_words(ctx, text: str) -> int:
    """Count the words of a text."""
    return len(text.split())


@tool()
def broken_output(ctx) -> int:
    """Claims to return an integer, returns text."""
    return "not a number"  # type: ignore[return-value]


def _note_for(ctx, id: int) -> Note:
    note = NOTES.get(id)
    if note is None:
        raise NotFound(f"note {id}")
    ctx.require(
        note.owner == getattr(ctx.user, "username", None), f"note {id}", f"note {id} is {note.owner}'s"
    )
    return note


@tool()
def read_note(ctx, id: int) -> Note:
    """Read one of your notes."""
    return _note_for(ctx, id)


@tool()
def me(ctx) -> dict[str, str | None]:
    """Who is calling, as Django objects."""
    return {
        "user": ctx.user.get_username() if ctx.user is not None else None,
        "client": ctx.client.client_id if ctx.client is not None else None,
        "caller": type(ctx.caller).__name__,
        "roles": " ".join(sorted(ctx.roles)),
        "scopes": " ".join(sorted(ctx.scopes)),
        "request_id": str(ctx.request_id),
    }


def _topics(ctx, value: str, arguments: dict[str, str]) -> list[str]:
    topics = ["taxes", "tea", "tennis"] if arguments.get("tone") == "formal" else ["tea", "travel", "toys"]
    return [topic for topic in topics if topic.startswith(value)]


@prompt(complete={"topic": _topics})
def brief(ctx, topic: str, tone: Literal["formal", "casual"] = "casual", words: int = 50) -> str:
    """Write a brief.

    Args:
        topic: What the brief is about.
        tone: How it sounds.
        words: About how long it is.
    """
    return f"Write {words + 0} {tone} words about {topic}."


@prompt()
def discuss_note(ctx, id: int) -> str:
    """Talk about one of your notes."""
    return f"Let us talk about {_note_for(ctx, id).title}."


def _note_ids(ctx, value: str) -> list[str]:
    return [
        str(id)
        for id, note in NOTES.items()
        if str(id).startswith(value) and note.owner == getattr(ctx.user, "username", None)
    ]


@resource("notes://{id}", mime_type="application/json", complete={"id": _note_ids})
def note(ctx, id: int) -> str:
    """One of your notes, as JSON."""
    return _note_for(ctx, id).model_dump_json()

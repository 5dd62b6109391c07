"""A test-only capability module whose tools, prompt and resource ask the client (``ctx.elicit``, ...)."""

from __future__ import annotations

import dataclasses
import itertools

from mcpserver.registry import ClientCannot, Progress, Question, prompt, resource, tool

CONFIRM = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
_changing = itertools.count()


@dataclasses.dataclass
class Guest:
    name: str
    nights: int = 1


@tool()
def book_room(ctx, room: str) -> str:
    """Book a room once the user confirms."""
    answer = ctx.elicit(f"Book room {room}?", CONFIRM, key="confirm")
    if not answer.accepted:
        return f"Not booked ({answer.action})."
    return f"Booked {room}." if answer.content["ok"] else "Not booked."


@tool()
def register_guest(ctx) -> str:
    """Ask for a guest, then for a note, keeping a count of the rounds in ctx.state."""
    ctx.state["runs"] = ctx.state.get("runs", 0) + 1
    guest = ctx.elicit("Who is the guest?", Guest)
    note = ctx.elicit("Any note?", {"type": "object", "properties": {"note": {"type": "string"}}})
    nights = guest.content.get("nights", 1)
    return f"{guest.content['name']} for {nights} nights; {note.content}; runs {ctx.state['runs']}"


@tool()
def survey(ctx) -> str:
    """Ask the user, the model and the client's roots in one round."""
    named, sampled, found = ctx.ask(
        Question.elicitation("Your name?", {"type": "object", "properties": {"name": {"type": "string"}}}),
        Question.sampling("Say hello", max_tokens=10, temperature=0.1),
        Question.roots(),
    )
    return f"{named.content['name']} / {sampled['content']['text']} / {[r['uri'] for r in found]}"


@tool()
def name_somehow(ctx) -> str:
    """Ask the user, or the model when the client cannot ask the user."""
    try:
        return "user: " + ctx.elicit("Your name?", {"type": "object", "properties": {}}).action
    except ClientCannot as exc:
        return f"no {exc.capability}; model: " + ctx.sample("A name", max_tokens=5)["content"]["text"]


@tool()
def careless(ctx) -> str:
    """Ask without handling a client that cannot be asked."""
    return ctx.list_roots()[0]["uri"]


@tool()
def swallow_everything(ctx) -> str:
    """A tool whose ``except Exception`` must not swallow the stop of an input-required round."""
    try:
        ctx.elicit("Confirm?", CONFIRM)
    except Exception:  # noqa: BLE001
        return "swallowed"
    return "asked"


@tool()
def changing_question(ctx) -> str:
    """A question that is different in every run: an earlier answer never counts for it."""
    ctx.elicit("Confirm?", CONFIRM, key="first")
    return "second: " + ctx.elicit(f"Question {next(_changing)}?", CONFIRM, key="second").action


@tool()
def keeps_a_set(ctx) -> str:
    """Keeps what JSON cannot hold in ctx.state."""
    ctx.state["bad"] = {1, 2}
    ctx.elicit("Confirm?", CONFIRM)
    return "done"


@tool()
def sign_in(ctx) -> str:
    """Send the user to a URL."""
    return ctx.elicit_url("Sign in to the calendar", "https://calendar.example/connect").action


@tool()
def progress_then_ask(ctx):
    """A generator tool that reports progress, then asks."""
    yield Progress(1, 2)
    answer = ctx.elicit("Go on?", CONFIRM)
    yield Progress(2, 2)
    return f"went on: {answer.accepted}"


@prompt()
def briefing(ctx, topic: str) -> str:
    """A prompt that asks the user for the audience."""
    audience = ctx.elicit(
        "Who is the audience?", {"type": "object", "properties": {"who": {"type": "string"}}}
    )
    return f"Brief {audience.content.get('who', 'anyone')} on {topic}."


@resource("asking://diary", mime_type="text/plain")
def diary(ctx) -> str:
    """A resource that reads only after the user agrees."""
    answer = ctx.elicit("Read your diary?", CONFIRM)
    return "Dear diary..." if answer.accepted and answer.content["ok"] else "(closed)"


@resource("asking://roots", mime_type="text/plain")
def root_list(ctx) -> str:
    """A resource that needs the client's roots and does not do without."""
    return "\n".join(root["uri"] for root in ctx.list_roots())

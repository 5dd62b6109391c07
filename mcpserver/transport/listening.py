"""The 2025 era's GET stream: a session's server notifications as SSE, read from the shared log.

``GET /mcp`` with the session's ``Mcp-Session-Id`` (and ``Accept: text/event-stream``) opens it. The
stream reads ``notifications.LOG`` from where it starts (the log's end, or the client's
``Last-Event-ID``) and writes what each event means for this session (``notifications.for_listener``):
resource updates for the URIs it subscribed to, list changes when what its caller may see changed.
Every notification carries the event's id; the first frame (a priming event with no data) carries the
id the stream starts from and the ``retry`` delay, so a client can reconnect, to any instance, and
resume after the last event it saw as long as the log still keeps it.

A stream holds one of the server's threads: it ends after ``NOTIFICATION_STREAM_SECONDS`` (the client
reconnects after ``retry``), when the shared state becomes unreachable (the client resumes later),
and within ``KEEPALIVE_SECONDS`` of its session ending (the session is read again that often) or of
the client leaving (a comment line that often finds out, as on an interactive call's stream).
``views`` admits at most ``MAX_STREAMS`` streams per process, ``MAX_STREAMS_PER_CALLER`` per caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import sharedstate
from observability.outages import OUTAGES

from .. import conf, jsonrpc, notifications, sessions
from ..auth import AccessToken
from ..exceptions import InvalidRequest, SessionNotFound
from ..methods.context import Context
from ..registry import Registry
from .exchange import Streamed
from .interactive import KEEPALIVE, KEEPALIVE_SECONDS

logger = logging.getLogger(__name__)

RETRY_MS = 1000
# Which definitions make up what a caller sees of each family.
_KINDS = {"tools": ("tool",), "prompts": ("prompt",), "resources": ("resource", "template")}


def open_stream(session_id: str | None, token: AccessToken, registry: Registry, last_event_id: str | None):
    """The session's notification stream; ``InvalidRequest`` without a session id or with a
    ``Last-Event-ID`` this server never sent, ``SessionNotFound`` for a session that does not load."""
    if not session_id:
        raise InvalidRequest("The GET stream needs the Mcp-Session-Id header of an initialized session")
    state = sessions.load(session_id, token)
    if state is None:
        raise SessionNotFound()
    if last_event_id is None:
        start = sharedstate.end(notifications.LOG)
    else:
        start = last_event_id.strip(" \t")
        try:
            sharedstate.read(notifications.LOG, start, 0)
        except ValueError:
            raise InvalidRequest("Last-Event-ID names no event of this server") from None
    listener = _Listener(session_id, token, registry, state)
    return Streamed(_frames(listener, start), {"Mcp-Session-Id": session_id})


def _frames(listener: _Listener, cursor: str) -> Iterator[bytes]:
    yield b"id: %s\nretry: %d\ndata: \n\n" % (cursor.encode(), RETRY_MS)
    try:
        yield from _notifications(listener, cursor)
    except OUTAGES as exc:  # the client reconnects after ``retry`` and resumes where it was
        logger.warning("Ending a notification stream: a backing service is unreachable (%s)", type(exc).__name__)


def _notifications(listener: _Listener, cursor: str) -> Iterator[bytes]:
    ends = time.monotonic() + conf.get("NOTIFICATION_STREAM_SECONDS")
    while (remaining := ends - time.monotonic()) > 0:
        events = sharedstate.read(notifications.LOG, cursor, min(KEEPALIVE_SECONDS, remaining))
        if not listener.refresh():
            return  # the session ended
        if not events:
            yield KEEPALIVE
            continue
        for event_id, event in events:
            cursor = event_id
            for note in listener.notifications(event):
                yield _event(event_id, note)


def _event(event_id: str, message: dict[str, Any]) -> bytes:
    return b"id: " + event_id.encode() + b"\nevent: message\ndata: " + jsonrpc.dumps(message) + b"\n\n"


class _Listener:
    """One session as its stream serves it: its subscriptions, and what its caller saw of each family."""

    def __init__(self, session_id: str, token: AccessToken, registry: Registry, state: dict[str, Any]) -> None:
        self.session_id, self.token, self.state = session_id, token, state
        self.ctx = Context(token=token, registry=registry, era="legacy", version=state.get("version", ""))
        self.views = {family: self._view(family) for family in notifications.FAMILIES}

    def refresh(self) -> bool:
        """Read the session's state again (its subscriptions may have changed); False once it ended."""
        state = sessions.load(self.session_id, self.token)
        if state is None:
            return False
        self.state = state
        return True

    def notifications(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        changed = []
        for family in notifications.families_of(event):
            view = self._view(family)
            if view != self.views[family]:
                self.views[family] = view
                changed.append(family)
        return notifications.for_listener(event, self.state.get("subscriptions") or [], changed)

    def _view(self, family: str) -> frozenset[tuple[str, str]]:
        return frozenset((item.kind, item.key) for kind in _KINDS[family] for item in self.ctx.visible(kind))

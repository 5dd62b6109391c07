"""Notification streams, read from the shared log (``notifications.LOG``): the 2025 era's GET stream
of a session, and the 2026-07-28 ``subscriptions/listen`` stream.

**GET stream** (``open_stream``): ``GET /mcp`` with the session's ``Mcp-Session-Id`` (and ``Accept:
text/event-stream``). It reads the log from where it starts (the log's end, or the client's
``Last-Event-ID``) and writes what each event means for the session (``notifications.for_listener``):
resource updates for the URIs it subscribed to, list changes when what its caller may see changed.
Every notification carries the event's id; the first frame (a priming event with no data) carries the
id the stream starts from and the ``retry`` delay, so a client can reconnect, to any instance, and
resume after the last event it saw as long as the log still keeps it.

**Listen stream** (``listen``): the answer to a ``subscriptions/listen`` POST, always SSE. First
``notifications/subscriptions/acknowledged`` with the filter the server agreed to, then the
notifications of that filter, each with the request's id as ``_meta["io.modelcontextprotocol/
subscriptionId"]``; when the stream's lifetime is over, the request's result (the subscription ended
gracefully; the client listens again).

A stream holds one of the server's threads, so ``admit`` lets at most ``MAX_STREAMS`` run per process
and ``MAX_STREAMS_PER_CALLER`` per caller (``TooManyRequests`` beyond). It ends after
``NOTIFICATION_STREAM_SECONDS``, when the shared state becomes unreachable (the client comes back
later), and within ``KEEPALIVE_SECONDS`` of the client leaving (a comment line that often finds out,
as on an interactive call's stream) or of its session ending (the session is read again that often).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import sharedstate
from observability.outages import OUTAGES

from .. import conf, jsonrpc, limits, notifications, sessions
from ..auth import AccessToken
from ..exceptions import InvalidRequest, SessionNotFound, TooManyRequests
from ..methods.context import Context
from ..methods.subscriptions import SUBSCRIPTION_ID_KEY, Listen
from ..registry import Registry
from .answers import sse
from .exchange import Exchange, Streamed
from .interactive import KEEPALIVE, KEEPALIVE_SECONDS

logger = logging.getLogger(__name__)

RETRY_MS = 1000
# Which definitions make up what a caller sees of each family.
_KINDS = {"tools": ("tool",), "prompts": ("prompt",), "resources": ("resource", "template")}


def admit(token: AccessToken) -> Callable[[], None]:
    """Count one more stream of this process and of its caller; its release. ``TooManyRequests`` beyond
    ``MAX_STREAMS`` or ``MAX_STREAMS_PER_CALLER``."""
    ours = limits.admit("stream:" + token.subject, conf.get("MAX_STREAMS_PER_CALLER"))
    if ours is None:
        raise TooManyRequests()
    everyone = limits.admit("streams", conf.get("MAX_STREAMS"))
    if everyone is None:
        ours()
        raise TooManyRequests()

    def release() -> None:
        ours()
        everyone()

    return release


def open_stream(
    session_id: str | None, token: AccessToken, registry: Registry, last_event_id: str | None
) -> Streamed:
    """The session's GET stream; ``InvalidRequest`` without a session id or with a ``Last-Event-ID`` this
    server never sent, ``SessionNotFound`` for a session that does not load."""
    if not session_id:
        raise InvalidRequest("The GET stream needs the Mcp-Session-Id header of an initialized session")
    state = sessions.load(session_id, token)
    if state is None:
        raise SessionNotFound()
    start = _start(last_event_id)

    def frames() -> Iterator[bytes]:
        listener = _Listener(token, registry, notifications.FAMILIES, session=(session_id, state))
        return _session_frames(listener, start)

    return Streamed(_admitted(token, frames), {"Mcp-Session-Id": session_id}, counted=True)


def listen(ctx: Context, request: Listen, exchange: Exchange) -> Streamed:
    """The ``subscriptions/listen`` stream of a 2026-07-28 request (``InvalidRequest`` without SSE)."""
    if not exchange.accepts_sse:
        raise InvalidRequest("subscriptions/listen answers with a stream: send Accept: text/event-stream")
    start = sharedstate.end(notifications.LOG)

    def frames() -> Iterator[bytes]:
        listener = _Listener(ctx.token, ctx.registry, request.families, uris=request.uris)
        return _listen_frames(ctx, request, listener, start)

    return Streamed(_admitted(ctx.token, frames), counted=True)


def _admitted(token: AccessToken, frames: Callable[[], Iterator[bytes]]) -> limits.Releasing:
    """The stream ``frames()`` makes, holding a slot (``admit``) until the server closes it."""
    release = admit(token)
    try:
        return limits.Releasing(_guarded(frames()), release)
    except BaseException:
        release()
        raise


def _start(last_event_id: str | None) -> str:
    if last_event_id is None:
        return sharedstate.end(notifications.LOG)
    start = last_event_id.strip(" \t")
    try:
        sharedstate.read(notifications.LOG, start, 0)
    except ValueError:
        raise InvalidRequest("Last-Event-ID names no event of this server") from None
    return start


def _guarded(frames: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from frames
    except OUTAGES as exc:  # the client comes back later (a GET stream resumes where it was)
        logger.warning(
            "Ending a notification stream: a backing service is unreachable (%s)", type(exc).__name__
        )


def _session_frames(listener: _Listener, cursor: str) -> Iterator[bytes]:
    yield b"id: %s\nretry: %d\ndata: \n\n" % (cursor.encode(), RETRY_MS)
    for event_id, note in _notifications(listener, cursor):
        yield note if event_id is None else _event(event_id, note)


def _listen_frames(ctx: Context, request: Listen, listener: _Listener, cursor: str) -> Iterator[bytes]:
    tag = {SUBSCRIPTION_ID_KEY: ctx.request_id}
    yield sse(_tagged(jsonrpc.notification("notifications/subscriptions/acknowledged", {
        "notifications": request.agreed(),
    }), tag))  # fmt: skip
    for event_id, note in _notifications(listener, cursor):
        yield note if event_id is None else sse(_tagged(note, tag))
    yield sse(jsonrpc.result(ctx.request_id, {"resultType": "complete", "_meta": tag}))


def _notifications(listener: _Listener, cursor: str) -> Iterator[tuple[str | None, Any]]:
    """(event id, notification) as they come, (None, keep-alive bytes) while none do, until the
    stream's lifetime is over or its session ended."""
    ends = time.monotonic() + conf.get("NOTIFICATION_STREAM_SECONDS")
    while (remaining := ends - time.monotonic()) > 0:
        events = sharedstate.read(notifications.LOG, cursor, min(KEEPALIVE_SECONDS, remaining))
        if not listener.refresh():
            return
        if not events:
            yield None, KEEPALIVE
            continue
        for event_id, event in events:
            cursor = event_id
            for note in listener.notifications(event):
                yield event_id, note


def _event(event_id: str, message: dict[str, Any]) -> bytes:
    return b"id: " + event_id.encode() + b"\nevent: message\ndata: " + jsonrpc.dumps(message) + b"\n\n"


def _tagged(message: dict[str, Any], tag: dict[str, Any]) -> dict[str, Any]:
    params = message["params"]
    return {**message, "params": {**params, "_meta": {**params.get("_meta", {}), **tag}}}


class _Listener:
    """One stream's listener: the resource URIs it follows (a session's, read again as it changes, or a
    listen request's), the families it hears list changes of, and what its caller saw of each."""

    def __init__(
        self,
        token: AccessToken,
        registry: Registry,
        families: Iterable[str],
        uris: Iterable[str] = (),
        session: tuple[str, dict[str, Any]] | None = None,
    ) -> None:
        self.token, self.session_id = token, session[0] if session else None
        self.uris = frozenset(session[1].get("subscriptions") or []) if session else frozenset(uris)
        version = session[1].get("version", "") if session else ""
        self.ctx = Context(token=token, registry=registry, era="legacy", version=version)
        self.views = {family: self._view(family) for family in families}

    def refresh(self) -> bool:
        """Read the session's state again (its subscriptions may have changed); False once it ended."""
        if self.session_id is None:
            return True
        state = sessions.load(self.session_id, self.token)
        if state is None:
            return False
        self.uris = frozenset(state.get("subscriptions") or [])
        return True

    def notifications(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        changed = []
        for family in notifications.families_of(event):
            if family not in self.views:
                continue
            view = self._view(family)
            if view != self.views[family]:
                self.views[family] = view
                changed.append(family)
        return notifications.for_listener(event, self.uris, changed)

    def _view(self, family: str) -> frozenset[tuple[str, str]]:
        return frozenset((item.kind, item.key) for kind in _KINDS[family] for item in self.ctx.visible(kind))

"""Calls that may ask the client something (the 2025 handshake era): the method runs in a thread of its
own, and the request's thread writes what it sends on the call's SSE stream.

A ``tools/call`` is interactive when the client can be asked and can answer: in a session, from a
client that takes SSE and declared a capability the server may use (elicitation, sampling, roots),
outside a batch. Its answer is JSON when the method finishes before it sends anything, as any call's;
otherwise an SSE stream: progress and log notifications and requests to the client
(``clientrequests.ask``) as they come, then the response.

While the stream waits, a comment line every ``KEEPALIVE_SECONDS`` tells the server whether the client
is still there (a failed write makes it close the stream). Closing the stream cancels the call: a
generator tool stops between its steps, and an ``ask`` waiting for an answer raises ``CallCancelled``
at once. The thread closes its own database connections when the call ends.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Iterator
from typing import Any

from django.db import connections

from .. import jsonrpc
from ..exceptions import InternalError, McpError
from ..methods import Method
from ..methods.context import Context, Stream
from .answers import decorate, event_notification, log_threshold, sse
from .clientrequests import CAPABILITIES, Outbox
from .exchange import Exchange, Reply, Streamed

logger = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 1.0
KEEPALIVE = b": keep-alive\n\n"  # an SSE comment: clients skip it


def applies(ctx: Context, method: Method, exchange: Exchange) -> bool:
    """Whether this call may ask the client (and so runs in a thread of its own)."""
    declared = ctx.client_capabilities
    return (
        method.may_ask
        and ctx.session_id is not None
        and exchange.accepts_sse
        and exchange.may_stream
        and any(name in declared for name in CAPABILITIES.values())
    )


def answer(ctx: Context, method: Method, exchange: Exchange) -> Reply | Streamed:
    """Run the method in a thread; answer JSON if it ends before sending anything, else a stream."""
    outbox = ctx.outbox = Outbox()
    work = contextvars.copy_context()  # the request's context (its id in the logs) goes along
    threading.Thread(target=work.run, args=(_work, ctx, method, outbox), name="mcp-call", daemon=True).start()
    kind, value = outbox.next()
    if kind == Outbox.RAISED:
        raise value
    if kind == Outbox.DONE:
        return Reply(jsonrpc.result(ctx.request_id, value), 200, dict(ctx.response_headers))
    return Streamed(_Frames(ctx, outbox, value), dict(ctx.response_headers))


def _work(ctx: Context, method: Method, outbox: Outbox) -> None:
    ended = False
    try:
        outcome = method.handler(ctx)
        if isinstance(outcome, Stream):
            outcome = _pump(ctx, outcome, outbox)
        outbox.put(Outbox.DONE, None if outcome is None else decorate(ctx, method, outcome))
        ended = True
    except Exception as exc:  # answered by the request's thread, through the one error mapping
        outbox.put(Outbox.RAISED, exc)
        ended = True
    finally:
        if not ended:
            outbox.put(Outbox.RAISED, InternalError())
        connections.close_all()  # this thread's own


def _pump(ctx: Context, stream: Stream, outbox: Outbox) -> dict[str, Any] | None:
    """Run a generator tool to its end, sending its notifications; stop it once the client has left."""
    threshold = log_threshold(ctx)
    while not outbox.closed:
        try:
            event = next(stream.events)
        except StopIteration as stop:
            return stop.value
        note = event_notification(event, ctx.progress_token, threshold)
        if note is not None:
            outbox.send(note)
    stream.events.close()
    stream.abandon()
    return None


class _Frames:
    """The SSE body of an interactive call; closing it (the client left, or all was sent) cancels it."""

    def __init__(self, ctx: Context, outbox: Outbox, first: dict[str, Any]) -> None:
        self.ctx, self.outbox = ctx, outbox
        self.frames = self._frames(first)

    def __iter__(self) -> Iterator[bytes]:
        return self.frames

    def close(self) -> None:
        self.frames.close()
        self.outbox.close()

    def _frames(self, first: dict[str, Any]) -> Iterator[bytes]:
        yield sse(first)
        while True:
            item = self.outbox.next(KEEPALIVE_SECONDS)
            if item is None:
                yield KEEPALIVE
                continue
            kind, value = item
            if kind == Outbox.MESSAGE:
                yield sse(value)
            elif kind == Outbox.DONE:
                yield sse(jsonrpc.result(self.ctx.request_id, value))
                return
            else:
                yield sse(self._error(value))
                return

    def _error(self, exc: Exception) -> dict[str, Any]:
        if not isinstance(exc, McpError):
            logger.error("Unexpected error on /mcp", exc_info=exc)
            exc = InternalError()
        return jsonrpc.error(self.ctx.request_id, exc)

"""Calling a method and writing its answer: one JSON reply, or, for a result still being produced (a
generator tool), a stream.

A stream is SSE (request-related notifications, then the response) when the client takes SSE and
something may be sent before the result; otherwise a JSON document, still streamed so that a client
who leaves stops the work; a batch member is drained and answered as plain JSON. Closing a stream
cancels the tool. 2026-07-28 results carry ``resultType`` and, for cacheable methods, ``ttlMs`` and
``cacheScope``; an input-required answer (``Incomplete``, 2026-07-28 only) carries neither hint, and a
task handle (``tasks.Created``) is ``resultType: "task"``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from .. import conf, jsonrpc
from ..definitions import Log, Progress
from ..interaction.rounds import Incomplete
from ..methods import Method
from ..methods.context import Context, Stream
from ..methods.lifecycle import LOG_LEVELS
from ..tasks import Created
from .exchange import Exchange, Reply, Streamed

LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"
JSON = "application/json"
# How often a streamed JSON answer writes a byte of whitespace while its tool works: each write tells
# the server whether the client is still there (a failed one closes the body, which stops the tool).
PROBE_SECONDS = 0.25


def decorate(ctx: Context, method: Method, result: dict[str, Any] | Incomplete | Created) -> dict[str, Any]:
    if isinstance(result, Incomplete):
        return {**result.result, "resultType": "input_required"}
    if isinstance(result, Created):  # a task handle (io.modelcontextprotocol/tasks): CreateTaskResult
        return {**result.task, "resultType": "task"}
    if ctx.era == "modern":
        result = {**result, "resultType": "complete"}  # a copy: a tool may return a shared dict
        if method.cache_scope is not None:
            result["ttlMs"] = conf.get(method.ttl_setting)
            result["cacheScope"] = method.cache_scope
    return result


def answer(ctx: Context, method: Method, exchange: Exchange) -> Reply | Streamed:
    outcome = method.handler(ctx)
    if isinstance(outcome, Stream):
        # SSE only when the client takes it and something may be sent before the result; otherwise
        # JSON, still streamed, so that a client who leaves stops the work (see _JsonStream).
        if exchange.accepts_sse and (ctx.progress_token is not None or log_threshold(ctx) is not None):
            return Streamed(_EventStream(ctx, method, outcome), dict(ctx.response_headers))
        if exchange.may_stream:
            return Streamed(_JsonStream(ctx, method, outcome), dict(ctx.response_headers), JSON)
        outcome = _drain(outcome)
    return Reply(
        jsonrpc.result(ctx.request_id, decorate(ctx, method, outcome)), 200, dict(ctx.response_headers)
    )


def _drain(stream: Stream) -> dict[str, Any]:
    while True:
        try:
            next(stream.events)
        except StopIteration as stop:
            return stop.value


def log_threshold(ctx: Context) -> str | None:
    """The lowest level this request wants logs at: ``_meta`` opt-in (2026-07-28) or the session's level."""
    if ctx.era == "modern":
        meta = ctx.params.get("_meta")
        level = meta.get(LOG_LEVEL_KEY) if isinstance(meta, dict) else None
        return level if level in LOG_LEVELS else None
    return ctx.log_level or LOG_LEVELS[0]


def _wanted(level: str, threshold: str | None) -> bool:
    levels = LOG_LEVELS
    return threshold is not None and level in levels and levels.index(level) >= levels.index(threshold)


def event_notification(event: Any, progress_token: Any, threshold: str | None) -> dict[str, Any] | None:
    if isinstance(event, Progress) and progress_token is not None:
        params = {"progressToken": progress_token, "progress": event.progress}
        params.update(
            {k: v for k, v in (("total", event.total), ("message", event.message)) if v is not None}
        )
        return jsonrpc.notification("notifications/progress", params)
    if isinstance(event, Log) and _wanted(event.level, threshold):
        params = {"level": event.level, "data": event.data}
        if event.logger:
            params["logger"] = event.logger
        return jsonrpc.notification("notifications/message", params)
    return None


def sse(message: dict[str, Any]) -> bytes:
    return b"event: message\ndata: " + jsonrpc.dumps(message) + b"\n\n"


class _ToolStream:
    """A tool's streamed answer; closing it cancels the tool.

    The server closes the response when the client goes away; ``close`` then stops the tool (or
    records the call as cancelled when the stream was closed before it started).
    """

    def __init__(self, ctx: Context, method: Method, stream: Stream) -> None:
        self.ctx, self.method, self.stream = ctx, method, stream
        self.frames = self._frames()

    def __iter__(self) -> Iterator[bytes]:
        return self.frames

    def close(self) -> None:
        self.frames.close()
        self.stream.events.close()
        self.stream.abandon()

    def _frames(self) -> Iterator[bytes]:
        raise NotImplementedError

    def _result(self, result: dict[str, Any]) -> dict[str, Any]:
        return jsonrpc.result(self.ctx.request_id, decorate(self.ctx, self.method, result))


class _EventStream(_ToolStream):
    """Notifications as the tool yields them, then the response (``text/event-stream``)."""

    def _frames(self) -> Iterator[bytes]:
        threshold = log_threshold(self.ctx)
        while True:
            try:
                event = next(self.stream.events)
            except StopIteration as stop:
                result = stop.value
                break
            note = event_notification(event, self.ctx.progress_token, threshold)
            if note is not None:
                yield sse(note)
        yield sse(self._result(result))


class _JsonStream(_ToolStream):
    """The JSON response of a client that does not take SSE, preceded by whitespace while the tool works.

    WSGI tells a view nothing of a client that left; a server learns it when a write fails, and then
    closes the body. RFC 8259 §2 allows whitespace before a JSON value, so a byte of it every
    ``PROBE_SECONDS`` (between the tool's steps) keeps the body a plain JSON document.
    """

    def _frames(self) -> Iterator[bytes]:
        last = time.monotonic()
        while True:
            try:
                next(self.stream.events)
            except StopIteration as stop:
                result = stop.value
                break
            if time.monotonic() - last >= PROBE_SECONDS:
                last = time.monotonic()
                yield b"\n"
        yield jsonrpc.dumps(self._result(result))

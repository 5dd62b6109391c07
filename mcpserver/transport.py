"""Streamable HTTP rules: which era a message belongs to, header checks, sessions, JSON versus SSE.

One endpoint serves both eras. A message whose ``params._meta`` names a protocol version (or whose
``MCP-Protocol-Version`` header names a version we do not handshake, or that is ``server/discover``)
is handled statelessly under 2026-07-28; everything else follows the 2025 handshake era.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import conf, jsonrpc, sessions
from .auth import AccessToken
from .definitions import Log, Progress
from .exceptions import (
    HeaderMismatch,
    InvalidParams,
    InvalidRequest,
    McpError,
    MethodNotFound,
    SessionNotFound,
    UnsupportedProtocolVersion,
)
from .headers import decode as decode_header
from .methods import LEGACY, MODERN, Method
from .methods.context import Context, Stream
from .methods.lifecycle import HANDSHAKE_VERSIONS, LOG_LEVELS, MODERN_VERSIONS
from .registry import Registry

PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"
NAME_PARAMS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
BATCH_VERSION = "2025-03-26"
JSON = "application/json"
# How often a streamed JSON answer writes a byte of whitespace while its tool works: each write tells
# the server whether the client is still there (a failed one closes the body, which stops the tool).
PROBE_SECONDS = 0.25


@dataclass
class Exchange:
    """One HTTP request as the transport sees it: lower-cased headers, the caller, the registry."""

    headers: Mapping[str, str]
    token: AccessToken
    registry: Registry
    accepts_sse: bool = False
    may_stream: bool = True  # False for batch members: the batch is answered as one JSON array
    deadline: float | None = None  # shared by a batch's members; None: each tool call gets its own


@dataclass
class Reply:
    """A JSON body (or none: 202 Accepted) with its HTTP status and extra headers."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Streamed:
    """A streamed body: SSE (request-related notifications, then the final response), or JSON."""

    events: Iterator[bytes]
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/event-stream"


ACCEPTED = Reply(status=202)


def error_reply(exc: McpError, request_id: Any, era: str) -> Reply:
    """The one mapping of a JSON-RPC error to an HTTP reply (status differs by era)."""
    status = exc.status if era == "modern" else exc.legacy_status
    return Reply(jsonrpc.error(request_id, exc), status)


def era_of(obj: Any, headers: Mapping[str, str]) -> str:
    if not isinstance(obj, dict):
        return "legacy"  # a batch: only 2025-03-26 has them
    params = obj.get("params")
    if (
        isinstance(params, dict)
        and isinstance(params.get("_meta"), dict)
        and PROTOCOL_VERSION_KEY in params["_meta"]
    ):
        return "modern"  # even for initialize, which 2026-07-28 answers with 404 and -32601
    version = headers.get("mcp-protocol-version")
    if version is not None and version not in HANDSHAKE_VERSIONS:
        return "modern"
    return "modern" if obj.get("method") == "server/discover" else "legacy"


def handle(obj: Any, exchange: Exchange) -> Reply | Streamed:
    """Answer one decoded body."""
    era = era_of(obj, exchange.headers)
    try:
        if era == "modern":
            return _modern(obj, exchange)
        return _legacy(obj, exchange)
    except McpError as exc:
        return error_reply(exc, jsonrpc.peek_id(obj), era)


# --- 2026-07-28 ---


def _spoken() -> str:
    handshake = ", ".join(reversed(HANDSHAKE_VERSIONS))
    return f"this server speaks {', '.join(MODERN_VERSIONS)} (and {handshake} through initialize)"


def _unsupported_header(version: str) -> UnsupportedProtocolVersion:
    """An ``MCP-Protocol-Version`` header naming a revision we speak in neither era."""
    spoken = [*MODERN_VERSIONS, *reversed(HANDSHAKE_VERSIONS)]
    return UnsupportedProtocolVersion(
        f"Unsupported MCP-Protocol-Version: {version[:64]}; {_spoken()}",
        data={"supported": spoken, "requested": version},
    )


def _envelope(message: jsonrpc.Message, headers: Mapping[str, str]) -> tuple[str, dict[str, Any], Any]:
    """Check ``_meta`` and the mirrored headers; return version, client capabilities and client info."""
    meta = message.params.get("_meta")
    if not isinstance(meta, dict) or PROTOCOL_VERSION_KEY not in meta:
        # No 2026-07-28 envelope, and a header naming a revision we speak in neither era: say which we do.
        header = headers.get("mcp-protocol-version")
        if header is not None and header not in (*MODERN_VERSIONS, *HANDSHAKE_VERSIONS):
            raise _unsupported_header(header)
    if not isinstance(meta, dict) or PROTOCOL_VERSION_KEY not in meta or CLIENT_CAPABILITIES_KEY not in meta:
        raise InvalidParams(f"params._meta must carry {PROTOCOL_VERSION_KEY} and {CLIENT_CAPABILITIES_KEY}")
    version = meta[PROTOCOL_VERSION_KEY]
    if headers.get("mcp-protocol-version") != version:
        raise HeaderMismatch("The MCP-Protocol-Version header does not match params._meta")
    if decode_header(headers.get("mcp-method")) != message.method:
        raise HeaderMismatch("The Mcp-Method header does not match the request's method")
    name_param = NAME_PARAMS.get(message.method)
    if name_param is not None and decode_header(headers.get("mcp-name")) != message.params.get(name_param):
        raise HeaderMismatch(f"The Mcp-Name header does not match params.{name_param}")
    if version not in MODERN_VERSIONS:
        raise UnsupportedProtocolVersion(
            f"Unsupported protocol version: {str(version)[:64]}; {_spoken()}",
            data={"supported": list(MODERN_VERSIONS), "requested": version},
        )
    capabilities = meta[CLIENT_CAPABILITIES_KEY]
    if not isinstance(capabilities, dict):
        raise InvalidParams(f"{CLIENT_CAPABILITIES_KEY} must be an object")
    return version, capabilities, meta.get(CLIENT_INFO_KEY)


def _modern(obj: Any, exchange: Exchange) -> Reply | Streamed:
    message = jsonrpc.message(obj)
    if not message.is_request:
        return ACCEPTED
    version, capabilities, client_info = _envelope(message, exchange.headers)
    method = MODERN.get(message.method)
    if method is None:
        raise MethodNotFound(f"Method not found: {message.method}")
    ctx = Context(
        token=exchange.token,
        registry=exchange.registry,
        era="modern",
        version=version,
        params=message.params,
        request_id=message.id,
        client_capabilities=capabilities,
        client_info=client_info,
        headers=exchange.headers,
        deadline=exchange.deadline,
    )
    return _answer(ctx, method, exchange)


def _decorate(ctx: Context, method: Method, result: dict[str, Any]) -> dict[str, Any]:
    if ctx.era == "modern":
        result = {**result, "resultType": "complete"}  # a copy: a tool may return a shared dict
        if method.cache_scope is not None:
            result["ttlMs"] = conf.get(method.ttl_setting)
            result["cacheScope"] = method.cache_scope
    return result


def _answer(ctx: Context, method: Method, exchange: Exchange) -> Reply | Streamed:
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
        jsonrpc.result(ctx.request_id, _decorate(ctx, method, outcome)), 200, dict(ctx.response_headers)
    )


# --- 2025 handshake era ---


def _legacy_version(exchange: Exchange) -> str:
    version = exchange.headers.get("mcp-protocol-version")
    if version is None:
        return BATCH_VERSION  # an absent header means 2025-03-26
    if version not in HANDSHAKE_VERSIONS:
        raise _unsupported_header(version)
    return version


def _session(exchange: Exchange, method: str | None) -> tuple[str | None, dict[str, Any] | None]:
    session_id = exchange.headers.get("mcp-session-id")
    if session_id is None or method == "initialize":
        return None, None
    state = sessions.load(session_id, exchange.token)
    if state is None:
        raise SessionNotFound()
    return session_id, state


def _legacy(obj: Any, exchange: Exchange) -> Reply | Streamed:
    version = _legacy_version(exchange)
    if isinstance(obj, list):
        return _batch(obj, exchange, version)
    message = jsonrpc.message(obj)
    session_id, state = _session(exchange, message.method)
    if not message.is_request:
        return ACCEPTED
    return _legacy_request(message, exchange, (state or {}).get("version", version), session_id, state)


def _legacy_request(
    message: jsonrpc.Message,
    exchange: Exchange,
    version: str,
    session_id: str | None,
    state: dict[str, Any] | None = None,
):
    method = LEGACY.get(message.method)
    if method is None:
        raise MethodNotFound(f"Method not found: {message.method}")
    ctx = Context(
        token=exchange.token,
        registry=exchange.registry,
        era="legacy",
        version=version,
        params=message.params,
        request_id=message.id,
        session_id=session_id,
        log_level=(state or {}).get("log_level"),
        deadline=exchange.deadline,
    )
    return _answer(ctx, method, exchange)


def _batch(items: list[Any], exchange: Exchange, version: str) -> Reply:
    """JSON-RPC batches exist only in 2025-03-26; each member is answered as JSON (never streamed)."""
    if version != BATCH_VERSION:
        raise InvalidRequest(f"Batches are not allowed in protocol version {version}")
    if not items:
        raise InvalidRequest("An empty batch")
    limit = conf.get("MAX_BATCH_SIZE")
    if len(items) > limit:
        raise InvalidRequest(f"A batch may hold at most {limit} messages; this one holds {len(items)}")
    session_id, state = _session(exchange, None)
    # One HTTP request, one deadline: members answered after it are timeouts, not more work.
    deadline = time.monotonic() + conf.get("TOOL_TIMEOUT_SECONDS")
    json_only = Exchange(
        exchange.headers, exchange.token, exchange.registry, False, may_stream=False, deadline=deadline
    )
    replies = [_batch_member(item, json_only, version, session_id) for item in items]
    bodies = [reply.body for reply in replies if reply.body is not None]
    return Reply(bodies, 200) if bodies else ACCEPTED


def _batch_member(item: Any, exchange: Exchange, version: str, session_id: str | None) -> Reply:
    try:
        message = jsonrpc.message(item)
        if message.method == "initialize":
            raise InvalidRequest("initialize must not be part of a batch")
        if not message.is_request:
            return ACCEPTED
        return _legacy_request(message, exchange, version, session_id)  # type: ignore[return-value]
    except McpError as exc:
        return error_reply(exc, jsonrpc.peek_id(item), "legacy")


# --- streams ---


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


def _notification(event: Any, progress_token: Any, threshold: str | None) -> dict[str, Any] | None:
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
        return jsonrpc.result(self.ctx.request_id, _decorate(self.ctx, self.method, result))


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
            note = _notification(event, self.ctx.progress_token, threshold)
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

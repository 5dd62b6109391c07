"""The 2025 handshake era: ``initialize`` opens a session (``Mcp-Session-Id``) that later requests name;
the version is the session's, else the ``MCP-Protocol-Version`` header's (2025-03-26 when absent);
a session id that does not load for this caller is ``SessionNotFound``. A session keeps the client's
capabilities: a ``tools/call`` that may ask the client something runs as ``interactive`` says, and the
client's answers (JSON-RPC responses) go to the call waiting for them (``clientrequests.deliver``).
JSON-RPC batches exist only in 2025-03-26; their members share one deadline and are answered as JSON.
"""

from __future__ import annotations

import time
from typing import Any

from .. import conf, jsonrpc, sessions
from ..exceptions import InvalidRequest, McpError, MethodNotFound, SessionNotFound
from ..methods import LEGACY
from ..methods.context import Context
from ..methods.lifecycle import HANDSHAKE_VERSIONS
from . import clientrequests, interactive
from .answers import answer
from .exchange import ACCEPTED, Exchange, Reply, Streamed, error_reply, unsupported_header

BATCH_VERSION = "2025-03-26"


def _legacy_version(exchange: Exchange) -> str:
    version = exchange.headers.get("mcp-protocol-version")
    if version is None:
        return BATCH_VERSION  # an absent header means 2025-03-26
    if version not in HANDSHAKE_VERSIONS:
        raise unsupported_header(version)
    return version


def _session(exchange: Exchange, method: str | None) -> tuple[str | None, dict[str, Any] | None]:
    session_id = exchange.headers.get("mcp-session-id")
    if session_id is None or method == "initialize":
        return None, None
    state = sessions.load(session_id, exchange.token)
    if state is None:
        raise SessionNotFound()
    return session_id, state


def handle(obj: Any, exchange: Exchange) -> Reply | Streamed:
    """Answer one 2025-era body (a message or a batch); a JSON-RPC error is raised for ``transport.handle``
    to reply with (a batch member's becomes that member's reply)."""
    version = _legacy_version(exchange)
    if isinstance(obj, list):
        return _batch(obj, exchange, version)
    message = jsonrpc.message(obj)
    session_id, state = _session(exchange, message.method)
    if not message.is_request:
        return _accept(obj, message, exchange, session_id)
    return _legacy_request(message, exchange, (state or {}).get("version", version), session_id, state)


def _accept(obj: Any, message: jsonrpc.Message, exchange: Exchange, session_id: str | None) -> Reply:
    """A notification (not acted on) or the client's answer to a request of ours: 202."""
    if message.method is None:
        clientrequests.deliver(obj, session_id, exchange.token)
    return ACCEPTED


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
        client_capabilities=(state or {}).get("capabilities") or {},
        deadline=exchange.deadline,
        authorization=exchange.authorization,
    )
    if interactive.applies(ctx, method, exchange):
        return interactive.answer(ctx, method, exchange)
    return answer(ctx, method, exchange)


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
        exchange.headers, exchange.token, exchange.registry, False, may_stream=False, deadline=deadline,
        authorization=exchange.authorization,
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
            return _accept(item, message, exchange, session_id)
        return _legacy_request(message, exchange, version, session_id)  # type: ignore[return-value]
    except McpError as exc:
        return error_reply(exc, jsonrpc.peek_id(item), "legacy")

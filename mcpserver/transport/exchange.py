"""One HTTP exchange as the transport sees it: the request (``Exchange``), what answers it (a JSON
``Reply``, ``ACCEPTED``, or a ``Streamed`` body), and the answers both eras share: a JSON-RPC error's
reply, and the refusal of a protocol version neither era speaks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import jsonrpc
from ..auth import AccessToken
from ..exceptions import McpError, UnsupportedProtocolVersion
from ..methods.lifecycle import HANDSHAKE_VERSIONS, MODERN_VERSIONS
from ..registry import Registry


@dataclass
class Exchange:
    """One HTTP request as the transport sees it: lower-cased headers, the caller, the registry."""

    headers: Mapping[str, str]
    token: AccessToken
    registry: Registry
    accepts_sse: bool = False
    may_stream: bool = True  # False for batch members: the batch is answered as one JSON array
    deadline: float | None = None  # shared by a batch's members; None: each tool call gets its own
    # The verified request's Authorization header, for ctx.exchange_token (RFC 8693); never shown.
    authorization: str | None = field(default=None, repr=False)


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
    # A notification stream (``listening``) counts itself among the streams, not the requests in flight.
    counted: bool = False


ACCEPTED = Reply(status=202)


def error_reply(exc: McpError, request_id: Any, era: str) -> Reply:
    """The one mapping of a JSON-RPC error to an HTTP reply (status differs by era)."""
    status = exc.status if era == "modern" else exc.legacy_status
    return Reply(jsonrpc.error(request_id, exc), status)


def versions_spoken() -> str:
    handshake = ", ".join(reversed(HANDSHAKE_VERSIONS))
    return f"this server speaks {', '.join(MODERN_VERSIONS)} (and {handshake} through initialize)"


def unsupported_header(version: str) -> UnsupportedProtocolVersion:
    """An ``MCP-Protocol-Version`` header naming a revision we speak in neither era."""
    spoken = [*MODERN_VERSIONS, *reversed(HANDSHAKE_VERSIONS)]
    return UnsupportedProtocolVersion(
        f"Unsupported MCP-Protocol-Version: {version[:64]}; {versions_spoken()}",
        data={"supported": spoken, "requested": version},
    )

"""Streamable HTTP rules: which era a message belongs to, then that era's rules.

One endpoint serves both eras. A message whose ``params._meta`` names a protocol version (or whose
``MCP-Protocol-Version`` header names a version we do not handshake, or that is ``server/discover``)
is handled statelessly under 2026-07-28 (``modern``); everything else follows the 2025 handshake era
(``handshake``: sessions, batches). ``exchange`` holds what goes in and out, ``answers`` how a method's
outcome is written (JSON, or SSE), ``listening`` the 2025 GET stream of a session's notifications.

``handle`` answers one decoded body and never raises a JSON-RPC error: it becomes the reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import jsonrpc
from ..exceptions import McpError
from ..methods.lifecycle import HANDSHAKE_VERSIONS
from . import handshake, modern
from .exchange import Exchange, Reply, Streamed, error_reply
from .listening import open_stream
from .modern import PROTOCOL_VERSION_KEY

__all__ = ["Exchange", "Reply", "Streamed", "era_of", "error_reply", "handle", "open_stream"]


def era_of(obj: Any, headers: Mapping[str, str]) -> str:
    """``"modern"`` (2026-07-28) or ``"legacy"`` (the 2025 handshake era) for one decoded body."""
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
            return modern.handle(obj, exchange)
        return handshake.handle(obj, exchange)
    except McpError as exc:
        return error_reply(exc, jsonrpc.peek_id(obj), era)

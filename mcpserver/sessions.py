"""Legacy (2025) ``Mcp-Session-Id`` sessions, kept in the shared state so any worker serves any session."""

from __future__ import annotations

import re
import secrets
from typing import Any

import sharedstate

from . import conf, jsonrpc
from .auth import AccessToken

PREFIX = "mcp-session:"
_SESSION_ID = re.compile(r"^[\x21-\x7e]{1,128}$")  # visible ASCII, as the transport requires
# The client capabilities a session keeps (what the server may ask of the client), each at most this
# long as JSON: the session is read on every request.
KEPT_CAPABILITIES = ("elicitation", "roots", "sampling")
MAX_CAPABILITY_BYTES = 1024


def _key(session_id: str) -> str:
    return PREFIX + session_id


def create(token: AccessToken, version: str, client_info: Any = None, capabilities: Any = None) -> str:
    """Open a session bound to the caller (subject and client) and return its id; it keeps the client's
    ``capabilities`` that say what the server may ask of it (``KEPT_CAPABILITIES``)."""
    session_id = secrets.token_urlsafe(32)
    state = {"version": version, "subject": token.subject, "client_id": token.client_id}
    if isinstance(client_info, dict):
        state["client"] = {k: str(v)[:200] for k, v in client_info.items() if k in {"name", "version"}}
    if isinstance(capabilities, dict):
        state["capabilities"] = {
            name: value if len(jsonrpc.dumps(value)) <= MAX_CAPABILITY_BYTES else {}
            for name, value in capabilities.items()
            if name in KEPT_CAPABILITIES and isinstance(value, dict)
        }
    sharedstate.set(_key(session_id), state, conf.get("SESSION_TTL"))
    return session_id


def load(session_id: str, token: AccessToken) -> dict[str, Any] | None:
    """The session's state, or None when it is unknown, ended, expired or someone else's."""
    if not _SESSION_ID.match(session_id):
        return None
    state = sharedstate.get(_key(session_id))
    if (
        not isinstance(state, dict)
        or state.get("subject") != token.subject
        or state.get("client_id") != token.client_id
    ):
        return None
    return state


def end(session_id: str) -> None:
    sharedstate.delete(_key(session_id))


def update(session_id: str, **fields: Any) -> None:
    """Change a live session's state (e.g. its log level); it then lives ``SESSION_TTL`` from now.
    Nothing happens to a session that is unknown, ended or expired."""
    state = sharedstate.get(_key(session_id))
    if isinstance(state, dict):
        sharedstate.set(_key(session_id), {**state, **fields}, conf.get("SESSION_TTL"))

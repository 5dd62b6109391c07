"""The protocol versions and log levels this server speaks, and the methods about the connection
itself: ``server/discover`` (2026-07-28), and ``initialize`` (which opens a session), ``ping`` and
``logging/setLevel`` (the 2025 handshake era).
"""

from __future__ import annotations

from typing import Any

from .. import conf, sessions
from ..exceptions import InvalidParams
from ..registry import Registry
from ..tasks import EXTENSION
from .context import Context

MODERN_VERSIONS = ("2026-07-28",)
HANDSHAKE_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
LATEST_HANDSHAKE = HANDSHAKE_VERSIONS[-1]
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


def server_info() -> dict[str, str]:
    return {
        "name": conf.get("SERVER_NAME"),
        "title": conf.get("SERVER_TITLE"),
        "version": conf.get("SERVER_VERSION"),
    }


def instructions() -> str:
    """``MCPSERVER["INSTRUCTIONS"]``, or by default what each of the server's scopes unlocks."""
    configured = conf.get("INSTRUCTIONS")
    if configured:
        return configured
    read, tools, prompts = (conf.get(name) for name in ("READ_SCOPE", "TOOLS_SCOPE", "PROMPTS_SCOPE"))
    return (
        "Tools, prompts and resources of a Django project; every list shows only what your token may use. "
        f"Scopes: {read} lists and reads resources; {read} with {tools} lists tools, and {tools} calls them; "
        f"{read} with {prompts} lists prompts, and {prompts} gets them. A request that needs a scope your "
        "token lacks is refused with 403 insufficient_scope, naming the scopes to ask for."
    )


def capabilities(era: str, registry: Registry) -> dict[str, Any]:
    """What this server offers; ``completions`` only when a prompt or template can complete; the tasks
    extension only in the 2026-07-28 era (the one that has it here) and when some tool runs as a task.
    Resource updates and tool list changes are sent on a 2025 session's GET stream and on 2026-07-28
    ``subscriptions/listen`` streams."""
    offered: dict[str, Any] = {
        "tools": {"listChanged": True},
        "prompts": {"listChanged": False},
        "resources": {"subscribe": True, "listChanged": False},
    }
    if registry.completes():
        offered["completions"] = {}
    if era == "legacy":
        offered["logging"] = {}
    elif registry.runs_tasks():
        offered["extensions"] = {EXTENSION: {}}
    return offered


def discover(ctx: Context) -> dict[str, Any]:
    return {
        "supportedVersions": list(MODERN_VERSIONS),
        "capabilities": capabilities("modern", ctx.registry),
        "serverInfo": server_info(),
        "instructions": instructions(),
        "_meta": {SERVER_INFO_KEY: server_info()},
    }


def initialize(ctx: Context) -> dict[str, Any]:
    """Negotiate (answer the requested version when we speak it, else our latest) and open a session."""
    requested = ctx.params.get("protocolVersion")
    if not isinstance(requested, str):
        raise InvalidParams("initialize needs a protocolVersion string")
    version = requested if requested in HANDSHAKE_VERSIONS else LATEST_HANDSHAKE
    client_info, declared = ctx.params.get("clientInfo"), ctx.params.get("capabilities")
    ctx.response_headers["Mcp-Session-Id"] = sessions.create(ctx.token, version, client_info, declared)
    return {
        "protocolVersion": version,
        "capabilities": capabilities("legacy", ctx.registry),
        "serverInfo": server_info(),
        "instructions": instructions(),
    }


def ping(ctx: Context) -> dict[str, Any]:
    return {}


def set_level(ctx: Context) -> dict[str, Any]:
    """2025 ``logging/setLevel``: the session's streamed responses carry logs at or above this level."""
    level = ctx.params.get("level")
    if level not in LOG_LEVELS:
        raise InvalidParams(f"level must be one of {', '.join(LOG_LEVELS)}")
    if ctx.session_id is not None:
        sessions.update(ctx.session_id, log_level=level)
    return {}

"""The built-in resources: the server's own description, and a template describing each tool."""

from __future__ import annotations

import json

from . import conf
from .methods.lifecycle import HANDSHAKE_VERSIONS, MODERN_VERSIONS, instructions
from .registry import resource


@resource(
    "mcp://server/description",
    name="server-description",
    title="About this server",
    mime_type="text/markdown",
)
def server_description(ctx) -> str:
    """What this server is, which protocol versions it speaks and how to authorize."""
    return "\n".join(
        [
            f"# {conf.get('SERVER_TITLE')} {conf.get('SERVER_VERSION')}",
            "",
            instructions(),
            "",
            f"- Endpoint: {conf.get('RESOURCE_URL')}",
            f"- Protocol versions: {', '.join([*MODERN_VERSIONS, *reversed(HANDSHAKE_VERSIONS)])}",
            f"- Authorization server: {conf.get('ISSUER')}",
            f"- Scopes: {' '.join(conf.get('SCOPES_SUPPORTED'))}",
        ]
    )


def _visible_tool_names(ctx, value: str) -> list[str]:
    return [item.name for item in ctx.visible("tool") if item.name.startswith(value)]


@resource(
    "mcp://tools/{name}",
    name="tool-description",
    title="Tool description",
    mime_type="application/json",
    complete={"name": _visible_tool_names},
)
def tool_description(ctx, name: str) -> str:
    """The definition of one tool you may use, as JSON."""
    for item in ctx.visible("tool"):
        if item.name == name:
            return json.dumps(item.describe(), indent=2)
    raise LookupError(name)

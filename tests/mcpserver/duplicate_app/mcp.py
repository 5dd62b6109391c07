"""A second ``echo``: registering it next to the built-ins fails at start-up."""

from __future__ import annotations

from mcpserver.registry import tool


@tool()
def echo(ctx, message: str) -> str:
    """Another echo."""
    return message

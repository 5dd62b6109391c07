"""Found by discovery: no setting names this module."""

from __future__ import annotations

from mcpserver.registry import tool


@tool()
def shout(ctx, text: str, times: int = 1) -> str:
    """Say it louder.

    Args:
        text: What to say.
        times: How many times.
    """
    return " ".join([text.upper()] * times)

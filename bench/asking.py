"""``confirm_echo``: ``echo`` that asks the user to confirm first (one elicitation), for the ``/mcp``
section's two-round 2026-07-28 input-required call; registered by ``bench.mcp_settings``, never in
production."""

from __future__ import annotations

from mcpserver.registry import tool

CONFIRM = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


@tool()
def confirm_echo(ctx, message: str) -> str:
    """Send the message back once the user confirms.

    Args:
        message: The text to send back.
    """
    answer = ctx.elicit("Send the message back?", CONFIRM, key="confirm")
    return message if answer.accepted and answer.content["ok"] else ""

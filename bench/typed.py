"""``typed_echo``: the built-in ``echo`` written in the type-hint style (the same published input schema,
validated by the pydantic model its signature makes), for the ``/mcp`` section's comparison; registered
by ``bench.mcp_settings``, never in production."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from mcpserver.registry import tool


@tool(
    title="Echo (type hints)",
    annotations={"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False},
)
def typed_echo(
    ctx,
    message: Annotated[str, Field(max_length=10_000)],
    repeat_count: Annotated[int, Field(ge=1, le=10)] = 1,
) -> str:
    """Send the message back, repeated repeat_count times (one per line).

    Args:
        message: The text to send back.
        repeat_count: How many times to repeat it (1-10).
    """
    return "\n".join([message] * repeat_count)

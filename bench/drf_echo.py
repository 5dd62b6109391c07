"""``drf_echo``: the built-in ``echo`` with a DRF serializer as its input (the same fields: ``message`` a
string of at most 10,000 characters, ``repeat_count`` an integer from 1 to 10, default 1), validated by
the serializer, for the ``/mcp`` section's comparison; registered by ``bench.mcp_settings``, never in
production."""

from __future__ import annotations

from rest_framework import serializers

from mcpserver.registry import tool


class EchoSerializer(serializers.Serializer):
    message = serializers.CharField(
        max_length=10_000, allow_blank=True, trim_whitespace=False, help_text="The text to send back."
    )
    repeat_count = serializers.IntegerField(
        min_value=1, max_value=10, default=1, help_text="How many times to repeat it (1-10)."
    )


@tool(
    title="Echo (DRF serializer)",
    input=EchoSerializer,
    annotations={"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False},
)
def drf_echo(ctx, data) -> str:
    """Send the message back, repeated repeat_count times (one per line)."""
    return "\n".join([data["message"]] * data["repeat_count"])

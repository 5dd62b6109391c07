"""The built-in tools: echo, get_time, whoami and a long-running task that reports progress (run as an MCP
task, by the task worker, for a client that takes the tasks extension)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .registry import Log, Progress, ToolError, tool


@tool(
    title="Echo",
    input_schema={
        "type": "object",
        "properties": {
            "message": {"type": "string", "description": "The text to send back.", "maxLength": 10_000},
            "repeat_count": {
                "type": "integer",
                "minimum": 1,
                "maximum": 10,
                "default": 1,
                "description": "How many times to repeat it (1-10).",
            },
        },
        "required": ["message"],
        "additionalProperties": False,
    },
    annotations={"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False},
)
def echo(ctx, message: str, repeat_count: int = 1) -> str:
    """Send the message back, repeated repeat_count times (one per line)."""
    return "\n".join([message] * int(repeat_count))


TIME_SCHEMA = {
    "type": "object",
    "properties": {
        "timezone": {"type": "string"},
        "iso": {"type": "string", "description": "ISO 8601 local time with offset"},
        "unix": {"type": "integer"},
    },
    "required": ["timezone", "iso", "unix"],
}


@tool(
    "get_time",
    title="Current time",
    input_schema={
        "type": "object",
        "properties": {
            "timezone": {
                "type": "string",
                "description": "An IANA time zone, e.g. Europe/Paris (default UTC).",
            }
        },
        "additionalProperties": False,
    },
    output_schema=TIME_SCHEMA,
    annotations={"readOnlyHint": True, "openWorldHint": False},
)
def get_time(ctx, timezone: str = "UTC") -> dict:
    """Tell the current time in an IANA time zone (UTC by default)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ToolError(f"Unknown time zone: {timezone!r}. Use an IANA name such as Europe/Paris.") from None
    now = datetime.now(UTC)
    return {"timezone": timezone, "iso": now.astimezone(zone).isoformat(), "unix": int(now.timestamp())}


WHOAMI_SCHEMA = {
    "type": "object",
    "properties": {
        "subject": {"type": "string"},
        "username": {"type": ["string", "null"]},
        "client_id": {"type": "string"},
        "roles": {"type": "array", "items": {"type": "string"}},
        "scopes": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["subject", "username", "client_id", "roles", "scopes"],
}


@tool(
    title="Who am I", output_schema=WHOAMI_SCHEMA, annotations={"readOnlyHint": True, "openWorldHint": False}
)
def whoami(ctx) -> dict:
    """Show who is calling: the token's subject, username, client, roles and scopes."""
    token = ctx.token
    return {
        "subject": token.subject,
        "username": token.username,
        "client_id": token.client_id,
        "roles": sorted(token.roles),
        "scopes": sorted(token.scopes),
    }


LONG_TASK_MAX_MS = 10_000  # a demo: it must not hold a request thread for long


@tool(
    "long_task",
    title="Long-running task",
    input_schema={
        "type": "object",
        "properties": {
            "steps": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5},
            "interval_ms": {"type": "integer", "minimum": 0, "maximum": 2000, "default": 200},
        },
        "additionalProperties": False,
    },
    annotations={"readOnlyHint": True, "openWorldHint": False},
    task="optional",
)
def long_task(ctx, steps: int = 5, interval_ms: int = 200):
    """Work through a number of steps, reporting progress after each (send a progressToken to see it);
    steps x interval_ms may be at most 10,000 ms."""
    steps, interval_ms = int(steps), int(interval_ms)
    if steps * interval_ms > LONG_TASK_MAX_MS:
        raise ToolError(
            f"steps x interval_ms may be at most {LONG_TASK_MAX_MS} ms ({LONG_TASK_MAX_MS // 1000} s); "
            f"{steps} x {interval_ms} is {steps * interval_ms} ms."
        )
    for step in range(1, steps + 1):
        time.sleep(min(interval_ms / 1000, ctx.remaining()))  # never past the call's deadline
        yield Progress(step, steps, f"Step {step} of {steps}")
        yield Log({"step": step}, level="debug", logger="long_task")
    return f"Finished {steps} steps."

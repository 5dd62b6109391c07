"""Tools that run as tasks, for tests/mcpserver/test_tasks.py."""

from __future__ import annotations

from mcpserver.exceptions import InvalidParams
from mcpserver.registry import Progress, Question, ToolError, tool

CONFIRM = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
NAME = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


@tool(task="optional")
def add(ctx, a: int, b: int) -> str:
    """Adds two numbers, as a task when the client takes tasks."""
    return f"{a + b} (for {ctx.token.username})"


@tool(task="required")
def steps(ctx, count: int = 3):
    """Reports progress for ``count`` steps."""
    for step in range(count):
        yield Progress(step + 1, count, f"step {step + 1}")
    return f"{count} steps"


@tool(task="required")
def broken(ctx) -> str:
    raise RuntimeError("a bug")


@tool(task="required")
def refusing(ctx) -> str:
    raise ToolError("no can do")


@tool(task="required")
def protocol_error(ctx) -> str:
    raise InvalidParams("that is not a thing")


@tool(task="optional")
def delete_file(ctx, name: str) -> str:
    answer = ctx.elicit(f"Delete {name}?", CONFIRM, key="confirm")
    return f"deleted {name}" if answer.accepted and answer.content["ok"] else f"kept {name}"


@tool(task="optional")
def two_names(ctx) -> str:
    first, second = ctx.ask(
        Question.elicitation("First?", NAME, key="first"), Question.elicitation("Second?", NAME, key="second")
    )
    return f"{first.content['name']} & {second.content['name']}"


@tool(task="required", ask_first=True)
def greet_later(ctx) -> str:
    answer = ctx.elicit("Your name?", NAME, key="name")
    ctx.background()
    return f"Hello, {answer.content['name']}, from a task"


@tool()
def plain(ctx) -> str:
    return "plain"

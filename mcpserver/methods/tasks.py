"""``tasks/get``, ``tasks/update`` and ``tasks/cancel`` (the ``io.modelcontextprotocol/tasks`` extension,
2026-07-28 only), and ``start``, which answers a ``tools/call`` with a task handle.

Every task method checks again who is asking: the request must declare the extension (else -32021),
its token must carry ``TOOLS_SCOPE``, and the task must be one this caller started (same subject, same
client) whose token was not revoked: any other id, a stranger's included, is the same -32602 "Unknown
task". ``tasks/update`` and ``tasks/cancel`` answer an empty acknowledgement; what they changed is seen
on the next ``tasks/get``.
"""

from __future__ import annotations

from typing import Any

from .. import audit, conf
from ..definitions import Tool
from ..exceptions import InvalidParams, MissingClientCapability
from ..models import McpTask
from ..tasks import Created, negotiated, required_capabilities, store
from .context import Context


def start(
    ctx: Context,
    trail: audit.Trail,
    tool: Tool,
    arguments: dict[str, Any],
    answers: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
) -> Created:
    """Answer the call with a new task that runs ``tool`` with ``arguments`` (and the answers a tool that
    asks first gathered), audited as ``task``."""
    task = store.create(ctx.token, tool.name, arguments, ctx.version, ctx.client_capabilities, answers, state)
    trail.done("task", f"task {task.id}")
    return Created(store.describe(task))


def refuse_without_tasks(ctx: Context) -> None:
    """-32021 naming the extension, for a request that does not declare it."""
    if not negotiated(ctx.client_capabilities):
        raise MissingClientCapability(
            "This request needs the io.modelcontextprotocol/tasks extension in the client's capabilities",
            data=required_capabilities(),
        )


def _owned(ctx: Context) -> McpTask:
    refuse_without_tasks(ctx)
    ctx.token.require([conf.get("TOOLS_SCOPE")])
    task_id = ctx.params.get("taskId")
    if not isinstance(task_id, str) or not task_id:
        raise InvalidParams("taskId must be a non-empty string")
    task = store.owned(ctx.token, task_id)
    if task is None:
        raise InvalidParams(f"Unknown task: {task_id[:100]}")
    return task


def tasks_get(ctx: Context) -> dict[str, Any]:
    return store.describe(_owned(ctx), detailed=True)


def tasks_update(ctx: Context) -> dict[str, Any]:
    task = _owned(ctx)
    responses = ctx.params.get("inputResponses")
    if not isinstance(responses, dict) or not all(isinstance(value, dict) for value in responses.values()):
        raise InvalidParams("inputResponses must be an object whose values are the client's results")
    store.deliver(task, responses)
    return {}


def tasks_cancel(ctx: Context) -> dict[str, Any]:
    task = _owned(ctx)
    if store.cancel(task):
        audit.record(ctx.token, "task", task.tool, "cancelled", 0.0, None, ctx.version, f"task {task.id}")
    return {}

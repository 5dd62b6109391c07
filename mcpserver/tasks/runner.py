"""Running a task: the django-tasks task ``run_task`` (a worker, ``manage.py db_worker``, calls it) runs
the tool as the caller who started it and settles the task's row with how it ended.

How a run ends: the tool's result, a tool error included (``completed``; the 2026-07-28 ``isError``
result); a question without an answer yet (``input_required``; ``tasks/update`` queues the next run); a
JSON-RPC error the tool raised (an ``McpError``) or an unexpected exception (``failed``, with the error
object; the exception is logged, never told); a run that never ends, its worker killed say (``failed``
once it is overdue: ``store.fail_overdue``); a cancellation seen between the steps of a generator tool
(``cancelled``). A task whose starting token was revoked is withdrawn before it runs, and a generator
tool stops between steps when that happens while it runs (``store.withdraw``). A run that takes longer
than ``TASK_TIMEOUT_SECONDS`` is stopped between steps and completes with a timeout tool error. Each run
is one audit record of kind ``task``; the run also deletes tasks whose retention has ended.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from typing import Any

from django.apps import apps
from django_tasks import task

from .. import audit, conf, policies, results
from ..definitions import Progress, Tool, ToolError
from ..exceptions import InternalError, InvalidParams, McpError
from ..interaction.questions import ClientCannot
from ..interaction.rounds import InputRequired
from ..methods.context import Context, allowed
from ..methods.tools import is_generator_function, stopped
from ..models import McpTask
from ..schemas import SchemaError
from . import store
from .input import TaskInput

logger = logging.getLogger(__name__)
Status = McpTask.Status
REVOKED = "The token that started the task was revoked."
CANCEL_CHECK_SECONDS = 0.2  # how often a generator tool's run looks whether its task was cancelled


class _Stopped(Exception):
    """Raised between a generator tool's steps: its task was cancelled (``reason``) or ran out of time."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@task()
def run_task(task_id: str) -> None:
    """Run the task ``task_id`` once, if it is still working (a cancelled or deleted one is left alone)."""
    found = McpTask.objects.filter(id=task_id, status=Status.WORKING).first()
    if found is not None and store.begin(found.id):
        execute(found)
    store.prune()
    audit.flush()


def execute(row: McpTask) -> None:
    """One run of ``row``'s tool, as its caller; the row and the audit trail say how it ended."""
    ctx = _context(row)
    trail = audit.Trail(ctx, "task", row.tool, row.arguments)
    if store.revoked(row):
        store.withdraw(row)
        return
    tool = _usable(ctx, row.tool)
    if tool is None:
        error = InvalidParams(f"The tool {row.tool!r} is no longer available.").as_error()
        store.settle(row.id, Status.FAILED, error=error)
        trail.done("denied", f"task {row.id}: tool unavailable")
        return
    status, fields, outcome = _outcome(ctx, trail, tool, row)
    if store.settle(row.id, status, **fields):
        trail.done(outcome, f"task {row.id}: {status}")
    else:  # cancelled (by the client) while it ran: what it produced is dropped
        trail.done("cancelled", f"task {row.id}: cancelled while running")


def _context(row: McpTask) -> Context:
    ctx = Context(
        token=store.caller(row),
        registry=apps.get_app_config("mcpserver").registry,
        era="modern",
        version=row.protocol_version,
        params={"name": row.tool, "arguments": row.arguments},
        request_id=row.id,
        client_capabilities=row.client_capabilities,
        deadline=time.monotonic() + conf.get("TASK_TIMEOUT_SECONDS"),
    )
    ctx.interaction = TaskInput(row)
    return ctx


def _usable(ctx: Context, name: str) -> Tool | None:
    """The tool as it is configured now, if the caller may still use it (its policy or roles may have
    changed since the call)."""
    found = ctx.registry.get("tool", name)
    tool = policies.effective(found) if isinstance(found, Tool) else None
    return tool if tool is not None and allowed(ctx, tool) else None


def _outcome(ctx: Context, trail: audit.Trail, tool: Tool, row: McpTask) -> tuple[str, dict[str, Any], str]:
    """The status, the row's fields and the audit outcome of one run."""
    try:
        arguments = tool.validator.validate(row.arguments, ctx)
        value = tool.handler(ctx, **arguments)
        if is_generator_function(tool.handler):
            value = _drive(ctx, row, value)
        result = results.tool_result(tool, value)
    except InputRequired as asked:
        return Status.INPUT_REQUIRED, {**asked.result, "responses": {}}, "input_required"
    except _Stopped as stop:
        if stop.reason == "timeout":
            seconds = conf.get("TASK_TIMEOUT_SECONDS")
            failure = results.tool_failure(f"The task ran out of time ({seconds} s).")
            return Status.COMPLETED, {"result": failure}, "timeout"
        if stop.reason == "revoked":  # withdrawn (deleted) by the prune that follows the run
            return Status.CANCELLED, {"status_message": REVOKED}, "cancelled"
        return Status.CANCELLED, {}, "cancelled"
    except (McpError, SchemaError) as exc:
        return Status.FAILED, {"error": _error(exc)}, "error"
    except (ToolError, ClientCannot) as exc:  # a tool error, a refusal, a question it cannot ask: a result
        return Status.COMPLETED, {"result": stopped(trail, tool, exc)}, "error"  # audited by ``stopped``
    except Exception as exc:
        logger.error("Task %s (tool %s) failed", row.id, tool.name, exc_info=exc)
        return Status.FAILED, {"error": InternalError().as_error()}, "error"
    return Status.COMPLETED, {"result": result}, "error" if result.get("isError") else "ok"


def _error(exc: Exception) -> dict[str, Any]:
    """A JSON-RPC error object: an ``McpError``'s own; arguments that no longer validate, invalid params."""
    if isinstance(exc, McpError):
        return exc.as_error()
    return InvalidParams(f"Invalid arguments: {exc}").as_error()


def _drive(ctx: Context, row: McpTask, work: Generator) -> Any:
    """Run a generator tool to its end, stopping between steps when the task was cancelled, the token
    that started it revoked, or its time is up; progress messages become the task's ``statusMessage``."""
    checked, message = time.monotonic(), None
    try:
        while True:
            try:
                event = next(work)
            except StopIteration as stop:
                return stop.value
            if ctx.expired:
                raise _Stopped("timeout")
            if isinstance(event, Progress) and event.message:
                message = event.message
            if time.monotonic() - checked >= CANCEL_CHECK_SECONDS:  # one query at most this often
                checked = time.monotonic()
                if store.revoked(row):
                    raise _Stopped("revoked")
                if not store.still_working(row.id, message):
                    raise _Stopped("cancelled")
                message = None
    finally:
        work.close()

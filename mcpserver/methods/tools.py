"""``tools/list`` and ``tools/call``.

A call is audited once with its outcome. Arguments that break the tool's input schema, a
``ToolError`` and an unexpected exception are results with ``isError: true``, not protocol errors; a
``Forbidden`` (an object-level refusal) is answered as ``NotFound`` and audited as denied.
Every call has a deadline (``TOOL_TIMEOUT_SECONDS``, or the batch's): a plain tool is timed out when
it returns late; a generator tool is a ``Stream``, stopped between its steps once the deadline has
passed, or when the client goes away. A tool may ask the client (``ctx.elicit``, ...): in the 2026-07-28
era a question without an answer yet ends the call with an ``input_required`` result (audited as
such), and a question the client cannot be asked that the tool leaves uncaught is a tool error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from typing import Any

from .. import audit, conf, pagination, results
from ..definitions import CallCancelled, Forbidden, Tool, ToolError
from ..exceptions import InvalidParams, McpError, MissingClientCapability
from ..headers import check_params
from ..interaction.asking import begin
from ..interaction.questions import ClientCannot
from ..interaction.rounds import Incomplete, InputRequired, StartTask
from ..schemas import SchemaError
from ..tasks import Created, negotiated
from . import tasks
from .context import Context, Stream, call_arguments, scope_hint, usable

logger = logging.getLogger(__name__)


def tools_list(ctx: Context) -> dict[str, Any]:
    ctx.token.require([conf.get("READ_SCOPE")])
    page = pagination.paginate(ctx.params, lambda after: ctx.visible("tool", after), "tools")
    return scope_hint(ctx, "tool", page)


def _check_client_capabilities(ctx: Context, tool: Tool) -> None:
    missing = [name for name in tool.client_capabilities if name not in (ctx.client_capabilities or {})]
    if missing and ctx.era == "modern":
        raise MissingClientCapability(
            f"Tool {tool.name!r} needs client capabilities: {', '.join(missing)}",
            data={"requiredCapabilities": {name: {} for name in missing}},
        )


def _validated(ctx: Context, arguments: dict[str, Any], tool: Tool) -> tuple[dict[str, Any], str | None]:
    """The function's keyword arguments and None, or why ``arguments`` break the tool's input schema."""
    try:
        return tool.validator.validate(arguments, ctx), None
    except SchemaError as exc:
        return arguments, str(exc)


def _timed_out(trail: audit.Trail, tool: Tool) -> dict[str, Any]:
    trail.done("timeout")
    seconds = conf.get("TOOL_TIMEOUT_SECONDS")
    return results.tool_failure(f"The tool {tool.name!r} timed out (a call may take at most {seconds} s).")


def _finish_tool(
    ctx: Context, trail: audit.Trail, tool: Tool, run: Callable[[], Any]
) -> dict | Incomplete | Created:
    try:
        value = run()
        if ctx.expired:  # the work is done but the caller was promised an answer by now
            return _timed_out(trail, tool)
        result = results.tool_result(tool, value)
    except StartTask as begun:  # a task tool that asked first: the rest runs as a task
        return tasks.start(ctx, trail, tool, call_arguments(ctx), begun.answers, begun.state)
    except (InputRequired, Exception) as exc:  # InputRequired is no Exception: a tool cannot swallow it
        return stopped(trail, tool, exc)
    trail.done("error" if result.get("isError") else "ok")
    return result


def stopped(trail: audit.Trail, tool: Tool, exc: BaseException) -> dict | Incomplete:
    """What a tool that raised ``exc`` answers, audited once: a round that asked the client
    (``input_required``), a refusal (``denied``), a client that left (``cancelled``) or an error (the
    task runner's answer to a tool error too)."""
    if isinstance(exc, InputRequired):
        trail.done("input_required", exc.detail)
        return Incomplete(exc.result)
    if isinstance(exc, ClientCannot):
        trail.done("error", str(exc))
        return results.tool_failure(str(exc))
    if isinstance(exc, Forbidden):
        trail.done("denied", exc.reason)
        return results.tool_failure(str(exc))
    if isinstance(exc, CallCancelled):  # the client left while the tool asked it something
        trail.done("cancelled")
        return results.tool_failure(str(exc))
    trail.done("error")
    if isinstance(exc, ToolError):
        return results.tool_failure(str(exc))
    logger.error("Tool %s failed", tool.name, exc_info=exc)
    return results.tool_failure(f"The tool {tool.name!r} failed.")


class _DeadlinePassed(Exception):
    """Raised between a generator tool's steps once its deadline has passed (never by a tool)."""


def _steps(ctx: Context, work: Generator) -> Generator[Any, None, Any]:
    """``yield from work``, stopping it between steps once the deadline has passed."""
    try:
        while True:
            try:
                event = next(work)
            except StopIteration as stop:
                return stop.value
            if ctx.expired:
                raise _DeadlinePassed
            yield event
    finally:
        work.close()  # a no-op when it finished; otherwise its own finally blocks run now


def _streamed_tool(
    ctx: Context, trail: audit.Trail, tool: Tool, start: Callable[[], Generator]
) -> Generator[Any, None, Any]:
    try:
        # The call happens here, so even a bad signature is a tool error.
        value = yield from _steps(ctx, start())
    except GeneratorExit:  # the client closed the stream: the work stops here
        trail.done("cancelled")
        raise
    except _DeadlinePassed:
        return _timed_out(trail, tool)
    except StartTask as begun:
        return tasks.start(ctx, trail, tool, call_arguments(ctx), begun.answers, begun.state)
    except (InputRequired, Exception) as exc:
        return stopped(trail, tool, exc)
    return _finish_tool(ctx, trail, tool, lambda: value)


def _task_mode(ctx: Context, trail: audit.Trail, tool: Tool) -> str | None:
    """How a call of ``tool`` runs: ``"task"`` (a handle at once), ``"ask_first"`` (questions in the
    request, then a task), or None (in the request). A tool that runs only as a task refuses a client
    that does not take tasks (-32021, before it runs)."""
    if tool.task is None:
        return None
    if ctx.era == "modern" and negotiated(ctx.client_capabilities):
        return "ask_first" if tool.ask_first else "task"
    if tool.task == "required":
        trail.done("invalid", "runs only as a task; the client does not take tasks")
        tasks.refuse_without_tasks(ctx)
    return None


def tools_call(ctx: Context) -> dict[str, Any] | Incomplete | Stream | Created:
    name = ctx.params.get("name")
    if not isinstance(name, str):
        raise InvalidParams("tools/call needs a tool name")
    trail = audit.Trail(ctx, "tool", name, ctx.params.get("arguments"))
    tool = usable(ctx, ctx.registry.get("tool", name), InvalidParams(f"Unknown tool: {name}"), trail)
    _check_client_capabilities(ctx, tool)
    mode = _task_mode(ctx, trail, tool)
    try:
        arguments = call_arguments(ctx)
        if ctx.era == "modern":
            check_params(tool.input_schema, arguments, ctx.headers)
    except McpError as exc:
        trail.done("invalid", exc.message)
        raise
    begin(ctx, trail, "tools/call", name, arguments)
    if mode == "ask_first":
        ctx.interaction.escalate = True  # ctx.background() hands the call over to a task
    raw = arguments
    try:
        arguments, failure = _validated(ctx, arguments, tool)
    except Exception:  # the author's own validation code (a serializer's validate(), a validator) crashed
        logger.exception("Validating the arguments of tool %s failed", tool.name)
        trail.done("error")
        return results.tool_failure(f"The tool {tool.name!r} failed.")
    if failure is not None:
        # 2025-11-25 (SEP-1303): a tool execution error, so that the model reads why and retries.
        trail.done("invalid", failure)
        return results.tool_failure(f"Invalid arguments: {failure}")
    if mode == "task":
        return tasks.start(ctx, trail, tool, raw)
    if ctx.deadline is None:
        ctx.deadline = time.monotonic() + conf.get("TOOL_TIMEOUT_SECONDS")
    elif ctx.expired:  # a batch member after the batch's deadline: not started at all
        return _timed_out(trail, tool)
    if is_generator_function(tool.handler):
        events = _streamed_tool(ctx, trail, tool, lambda: tool.handler(ctx, **arguments))
        return Stream(events, lambda: trail.done("cancelled"))
    return _finish_tool(ctx, trail, tool, lambda: tool.handler(ctx, **arguments))


def is_generator_function(func: Callable[..., Any]) -> bool:
    return bool(getattr(func, "__code__", None) and func.__code__.co_flags & 0x20)

"""One small function per MCP method, and the dispatch tables of the two protocol eras."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import audit, conf, pagination, policies, results, sessions
from .auth import AccessToken
from .exceptions import InsufficientScope, InvalidParams, McpError, MissingClientCapability
from .headers import check_params
from .registry import Definition, Prompt, Registry, Resource, Tool, ToolError
from .schemas import SchemaError

logger = logging.getLogger(__name__)

MODERN_VERSIONS = ("2026-07-28",)
HANDSHAKE_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
LATEST_HANDSHAKE = HANDSHAKE_VERSIONS[-1]
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


@dataclass
class Context:
    """One request as a method (and a tool, prompt or resource function) sees it."""

    token: AccessToken
    registry: Registry
    era: str  # "modern" or "legacy"
    version: str
    params: dict[str, Any] = field(default_factory=dict)
    request_id: Any = None
    client_capabilities: dict[str, Any] = field(default_factory=dict)
    client_info: dict[str, Any] | None = None
    session_id: str | None = None
    log_level: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    response_headers: dict[str, str] = field(default_factory=dict)
    # time.monotonic() by which a tool call must finish (set by tools_call, or shared by a batch);
    # a tool that works for long should stop when ``expired``.
    deadline: float | None = None

    def remaining(self) -> float:
        """Seconds left before this call's deadline (infinite without one; never negative)."""
        return math.inf if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    @property
    def progress_token(self) -> Any:
        meta = self.params.get("_meta")
        return meta.get("progressToken") if isinstance(meta, dict) else None

    def visible(self, kind: str, after: str | None = None) -> Iterator[Definition]:
        """What this caller may use, sorted (keys after ``after`` only): allowed by scopes and roles and
        not switched off. Lazy, so that a page of a long list costs a page, not the whole list. The
        tool policies are read once, so that one listing applies one version of them."""
        kept = policies.overrides() if kind == "tool" else None
        return (
            item
            for item in (_effective(found, kept) for found in self.registry.all(kind, after))
            if item is not None and _allowed(self, item)
        )


@dataclass
class Stream:
    """A result that is still being produced: yields ``Progress``/``Log`` events, then returns the result."""

    events: Generator[Any, None, dict[str, Any]]
    abandon: Callable[[], None] = lambda: None  # called when the stream is closed, started or not


@dataclass(frozen=True)
class Method:
    handler: Callable[[Context], dict[str, Any] | Stream]
    cache_scope: str | None = None  # 2026-07-28 results of cacheable methods carry ttlMs and cacheScope
    ttl_setting: str = "LIST_TTL_MS"


# --- access ---


def _family_scope(item: Definition) -> str:
    return conf.get({"tool": "TOOLS_SCOPE", "prompt": "PROMPTS_SCOPE"}.get(item.kind, "READ_SCOPE"))


def required_scopes(item: Definition) -> list[str]:
    return [_family_scope(item), *item.scopes]


def _effective(item: Definition, kept: dict | None = None) -> Definition | None:
    return policies.effective(item, kept) if isinstance(item, Tool) else item


def _allowed(ctx: Context, item: Definition) -> bool:
    return not ctx.token.missing(required_scopes(item)) and ctx.token.has_roles(item.roles)


def _usable(ctx: Context, item: Definition | None, unknown: InvalidParams, trail: audit.Trail) -> Definition:
    """The item if this caller may use it: 403 for a missing scope, unknown when hidden by role or policy.

    A refusal of something that exists is audited as denied, with the reason (never told the caller).
    """
    if item is None:
        raise unknown
    found = _effective(item)
    if found is None:
        trail.done("denied", "disabled by policy")
        raise unknown
    if not ctx.token.has_roles(found.roles):
        trail.done("denied", f"needs one of the roles: {' '.join(found.roles)}")
        raise unknown
    required = required_scopes(found)
    missing = ctx.token.missing(required)
    if missing:
        trail.done("denied", f"missing scope{'s' if len(missing) > 1 else ''}: {' '.join(missing)}")
        raise InsufficientScope(required)
    return found


# --- identity ---


def server_info() -> dict[str, str]:
    return {
        "name": conf.get("SERVER_NAME"),
        "title": conf.get("SERVER_TITLE"),
        "version": conf.get("SERVER_VERSION"),
    }


def capabilities(era: str) -> dict[str, Any]:
    offered: dict[str, Any] = {
        "tools": {"listChanged": False},
        "prompts": {"listChanged": False},
        "resources": {"subscribe": False, "listChanged": False},
        "completions": {},
    }
    if era == "legacy":
        offered["logging"] = {}
    return offered


def discover(ctx: Context) -> dict[str, Any]:
    return {
        "supportedVersions": list(MODERN_VERSIONS),
        "capabilities": capabilities("modern"),
        "serverInfo": server_info(),
        "instructions": conf.get("INSTRUCTIONS"),
        "_meta": {SERVER_INFO_KEY: server_info()},
    }


def initialize(ctx: Context) -> dict[str, Any]:
    """Negotiate (answer the requested version when we speak it, else our latest) and open a session."""
    requested = ctx.params.get("protocolVersion")
    if not isinstance(requested, str):
        raise InvalidParams("initialize needs a protocolVersion string")
    version = requested if requested in HANDSHAKE_VERSIONS else LATEST_HANDSHAKE
    client_info = ctx.params.get("clientInfo")
    ctx.response_headers["Mcp-Session-Id"] = sessions.create(ctx.token, version, client_info)
    return {
        "protocolVersion": version,
        "capabilities": capabilities("legacy"),
        "serverInfo": server_info(),
        "instructions": conf.get("INSTRUCTIONS"),
    }


def ping(ctx: Context) -> dict[str, Any]:
    return {}


def set_level(ctx: Context) -> dict[str, Any]:
    """2025 ``logging/setLevel``: the session's streamed responses carry logs at or above this level."""
    level = ctx.params.get("level")
    if level not in LOG_LEVELS:
        raise InvalidParams(f"level must be one of {', '.join(LOG_LEVELS)}")
    if ctx.session_id is not None:
        sessions.update(ctx.session_id, log_level=level)
    return {}


# --- tools ---


def tools_list(ctx: Context) -> dict[str, Any]:
    ctx.token.require([conf.get("READ_SCOPE")])
    return pagination.paginate(ctx.params, lambda after: ctx.visible("tool", after), "tools")


def _check_client_capabilities(ctx: Context, tool: Tool) -> None:
    missing = [name for name in tool.client_capabilities if name not in (ctx.client_capabilities or {})]
    if missing and ctx.era == "modern":
        raise MissingClientCapability(
            f"Tool {tool.name!r} needs client capabilities: {', '.join(missing)}",
            data={"requiredCapabilities": {name: {} for name in missing}},
        )


def _arguments(ctx: Context) -> dict[str, Any]:
    """The call's arguments object: anything else is a malformed request (a protocol error)."""
    arguments = ctx.params.get("arguments")
    if arguments is None:
        return {}
    if not isinstance(arguments, dict):
        raise InvalidParams("arguments must be an object")
    return arguments


def _schema_failure(arguments: dict[str, Any], tool: Tool) -> str | None:
    """Why ``arguments`` break the tool's input schema, or None when they fit."""
    try:
        tool.validator.validate(arguments)
    except SchemaError as exc:
        return str(exc)
    return None


def _timed_out(trail: audit.Trail, tool: Tool) -> dict[str, Any]:
    trail.done("timeout")
    seconds = conf.get("TOOL_TIMEOUT_SECONDS")
    return results.tool_failure(f"The tool {tool.name!r} timed out (a call may take at most {seconds} s).")


def _finish_tool(ctx: Context, trail: audit.Trail, tool: Tool, run: Callable[[], Any]) -> dict[str, Any]:
    try:
        value = run()
        if ctx.expired:  # the work is done but the caller was promised an answer by now
            return _timed_out(trail, tool)
        result = results.tool_result(tool, value)
    except ToolError as exc:
        result = results.tool_failure(str(exc))
    except Exception:
        logger.exception("Tool %s failed", tool.name)
        result = results.tool_failure(f"The tool {tool.name!r} failed.")
    trail.done("error" if result.get("isError") else "ok")
    return result


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
    except ToolError as exc:
        trail.done("error")
        return results.tool_failure(str(exc))
    except Exception:
        logger.exception("Tool %s failed", tool.name)
        trail.done("error")
        return results.tool_failure(f"The tool {tool.name!r} failed.")
    return _finish_tool(ctx, trail, tool, lambda: value)


def tools_call(ctx: Context) -> dict[str, Any] | Stream:
    name = ctx.params.get("name")
    if not isinstance(name, str):
        raise InvalidParams("tools/call needs a tool name")
    trail = audit.Trail(ctx, "tool", name, ctx.params.get("arguments"))
    tool = _usable(ctx, ctx.registry.get("tool", name), InvalidParams(f"Unknown tool: {name}"), trail)
    _check_client_capabilities(ctx, tool)
    try:
        arguments = _arguments(ctx)
        if ctx.era == "modern":
            check_params(tool.input_schema, arguments, ctx.headers)
    except McpError as exc:
        trail.done("invalid", exc.message)
        raise
    failure = _schema_failure(arguments, tool)
    if failure is not None:
        # 2025-11-25 (SEP-1303): a tool execution error, so that the model reads why and retries.
        trail.done("invalid", failure)
        return results.tool_failure(f"Invalid arguments: {failure}")
    if ctx.deadline is None:
        ctx.deadline = time.monotonic() + conf.get("TOOL_TIMEOUT_SECONDS")
    elif ctx.expired:  # a batch member after the batch's deadline: not started at all
        return _timed_out(trail, tool)
    if _is_generator_function(tool.handler):
        events = _streamed_tool(ctx, trail, tool, lambda: tool.handler(ctx, **arguments))
        return Stream(events, lambda: trail.done("cancelled"))
    return _finish_tool(ctx, trail, tool, lambda: tool.handler(ctx, **arguments))


def _is_generator_function(func: Callable[..., Any]) -> bool:
    return bool(getattr(func, "__code__", None) and func.__code__.co_flags & 0x20)


# --- prompts ---


def prompts_list(ctx: Context) -> dict[str, Any]:
    ctx.token.require([conf.get("READ_SCOPE")])
    return pagination.paginate(ctx.params, lambda after: ctx.visible("prompt", after), "prompts")


def _prompt_arguments(ctx: Context, prompt: Prompt) -> dict[str, str]:
    arguments = _arguments(ctx)
    if any(not isinstance(value, str) for value in arguments.values()):
        raise InvalidParams("Prompt arguments must be strings")
    known = {argument.name for argument in prompt.arguments}
    missing = [a.name for a in prompt.arguments if a.required and a.name not in arguments]
    if missing:
        raise InvalidParams(f"Missing required argument(s): {', '.join(missing)}")
    return {key: value for key, value in arguments.items() if key in known}


def prompts_get(ctx: Context) -> dict[str, Any]:
    name = ctx.params.get("name")
    if not isinstance(name, str):
        raise InvalidParams("prompts/get needs a prompt name")
    trail = audit.Trail(ctx, "prompt", name, ctx.params.get("arguments"))
    prompt = _usable(ctx, ctx.registry.get("prompt", name), InvalidParams(f"Unknown prompt: {name}"), trail)
    try:
        arguments = _prompt_arguments(ctx, prompt)
    except InvalidParams as exc:
        trail.done("invalid", exc.message)
        raise
    try:
        messages = results.messages(prompt.handler(ctx, **arguments))
    except Exception:
        trail.done("error")
        raise
    trail.done("ok")
    return {"description": prompt.description, "messages": messages}


# --- resources ---


def resources_list(ctx: Context) -> dict[str, Any]:
    ctx.token.require([conf.get("READ_SCOPE")])
    return pagination.paginate(ctx.params, lambda after: ctx.visible("resource", after), "resources")


def templates_list(ctx: Context) -> dict[str, Any]:
    ctx.token.require([conf.get("READ_SCOPE")])
    return pagination.paginate(ctx.params, lambda after: ctx.visible("template", after), "resourceTemplates")


def _find_resource(ctx: Context, uri: str, trail: audit.Trail) -> tuple[Resource, dict[str, str]]:
    unknown = InvalidParams(f"Unknown resource: {uri}", data={"uri": uri})
    fixed = ctx.registry.get("resource", uri)
    if fixed is not None:
        return _usable(ctx, fixed, unknown, trail), {}
    found = ctx.registry.find_template(uri)
    if found is None:
        raise unknown
    trail.arguments = found[1]
    return _usable(ctx, found[0], unknown, trail), found[1]


def resources_read(ctx: Context) -> dict[str, Any]:
    uri = ctx.params.get("uri")
    if not isinstance(uri, str):
        raise InvalidParams("resources/read needs a uri")
    ctx.token.require([conf.get("READ_SCOPE")])
    trail = audit.Trail(ctx, "resource", uri, None)
    resource, variables = _find_resource(ctx, uri, trail)
    try:
        contents = results.contents(resource, uri, resource.handler(ctx, **variables))
    except LookupError:
        trail.done("invalid")
        raise InvalidParams(f"Unknown resource: {uri}", data={"uri": uri}) from None
    except Exception:
        trail.done("error")
        raise
    trail.done("ok")
    return {"contents": contents}


# --- completion ---


def _completion_target(ctx: Context, ref: Any) -> Definition:
    if not isinstance(ref, dict):
        raise InvalidParams("completion/complete needs a ref object")
    if ref.get("type") == "ref/prompt":
        found = ctx.registry.get("prompt", ref.get("name")) if isinstance(ref.get("name"), str) else None
    elif ref.get("type") == "ref/resource":
        uri = ref.get("uri")
        found = (
            (ctx.registry.get("template", uri) or ctx.registry.get("resource", uri))
            if isinstance(uri, str)
            else None
        )
    else:
        raise InvalidParams("ref.type must be ref/prompt or ref/resource")
    if found is None or not _allowed(ctx, found):
        raise InvalidParams("Unknown completion target", data={"ref": ref})
    return found


def complete(ctx: Context) -> dict[str, Any]:
    """Argument completion: prompt arguments with declared choices; nothing to suggest otherwise."""
    ctx.token.require([conf.get("READ_SCOPE")])
    target = _completion_target(ctx, ctx.params.get("ref"))
    argument = ctx.params.get("argument")
    if not isinstance(argument, dict) or not isinstance(argument.get("name"), str):
        raise InvalidParams("completion/complete needs argument.name and argument.value")
    prefix = argument.get("value") if isinstance(argument.get("value"), str) else ""
    choices = next((a.choices for a in getattr(target, "arguments", ()) if a.name == argument["name"]), ())
    values = [choice for choice in choices if choice.startswith(prefix)][:100]
    return {"completion": {"values": values, "total": len(values), "hasMore": False}}


# --- dispatch tables ---

_SHARED = {
    "tools/list": Method(tools_list, "private"),
    "tools/call": Method(tools_call),
    "prompts/list": Method(prompts_list, "private"),
    "prompts/get": Method(prompts_get),
    "resources/list": Method(resources_list, "private"),
    "resources/templates/list": Method(templates_list, "private"),
    "resources/read": Method(resources_read, "private"),
    "completion/complete": Method(complete),
}

MODERN: dict[str, Method] = {"server/discover": Method(discover, "public", "DISCOVER_TTL_MS"), **_SHARED}
LEGACY: dict[str, Method] = {
    "initialize": Method(initialize),
    "ping": Method(ping),
    "logging/setLevel": Method(set_level),
    **_SHARED,
}

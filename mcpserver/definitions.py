"""What a capability is: the immutable definitions of tools, prompts and resources, and what a
capability function may raise (``ToolError``, ``NotFound``, ``Forbidden``), meet (the
``ClientRequestError`` family, from a request to the client) or yield (``Progress``, ``Log``).

A definition's ``kind`` names its registry table and ``key`` its unique name there; ``describe()`` is
its entry in an MCP list result. Capability modules make them through the decorators of
``mcpserver.registry``, which also re-exports the names a capability function uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .completions import Completer
from .outputs import Output
from .schemas import ArgumentValidator
from .signatures import ArgumentModel

NO_ARGUMENTS = {"type": "object", "additionalProperties": False}
TASK_SUPPORT = (None, "optional", "required")
_TEMPLATE_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def template_variables(uri: str) -> list[str]:
    """The ``{variables}`` of a URI template, in order (none for a fixed URI)."""
    return _TEMPLATE_VARIABLE.findall(uri)


class ToolError(Exception):
    """Raised by a tool to report a failure to the caller as a result with ``isError: true``."""


class NotFound(ToolError, LookupError):
    """Raised about an object that does not exist or that the caller may not see: ``what`` names it as
    the caller named it. A tool answers the tool error ``Not found: <what>``, a resource is an unknown
    resource, a prompt an invalid-params error."""

    def __init__(self, what: str) -> None:
        super().__init__(f"Not found: {what}")
        self.what = what


class Forbidden(NotFound):
    """An object the caller may not see (an object-level check failed). The caller is answered exactly
    as ``NotFound`` (a refusal must not tell that the object exists); the audit record says ``denied``
    with ``reason``, which the caller never sees."""

    def __init__(self, what: str, reason: str = "") -> None:
        super().__init__(what)
        self.reason = reason or f"object-level check refused {what}"


class ClientRequestError(ToolError):
    """A request this call sent to the client (``elicitation/create``, ``sampling/createMessage``,
    ``roots/list``) got no usable answer; unless the tool catches it, the call fails with its message."""


class ClientCapabilityMissing(ClientRequestError):
    """The client did not declare the capability the request needs (at ``initialize``)."""


class ClientUnreachable(ClientRequestError):
    """This call has no stream to send a request on: a 2026-07-28 request, a client that takes no SSE,
    a request outside a session, a batch member."""


class ClientTimeout(ClientRequestError):
    """No answer within the timeout (or the call's deadline); the client was told to stop waiting."""


class ClientRefused(ClientRequestError):
    """The client answered with a JSON-RPC error (``code``, ``data``): e.g. it does not offer the method."""

    def __init__(self, message: str, code: int | None = None, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.data = code, data


class CallCancelled(ClientRequestError):
    """The client went away while the call waited for it; the call is audited as cancelled."""


@dataclass(frozen=True)
class Progress:
    """Yielded by a generator tool: becomes ``notifications/progress`` when the caller sent a token."""

    progress: float
    total: float | None = None
    message: str | None = None


@dataclass(frozen=True)
class Log:
    """Yielded by a generator tool: becomes ``notifications/message`` on a streamed response."""

    data: Any
    level: str = "info"
    logger: str | None = None


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    handler: Callable[..., Any]
    input_schema: dict[str, Any] = field(default_factory=lambda: dict(NO_ARGUMENTS))
    output_schema: dict[str, Any] | None = None
    scopes: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    title: str | None = None
    annotations: dict[str, Any] | None = None
    client_capabilities: tuple[str, ...] = ()
    # Compiled from input_schema once (or the model or serializer input_schema came from); anything with
    # ``validate(arguments, ctx)`` and ``check()``. dataclasses.replace (tool policies) hands it on.
    validator: ArgumentValidator | ArgumentModel = field(default=None, compare=False, repr=False)  # type: ignore[assignment]
    output: Output | None = field(default=None, compare=False, repr=False)  # from the return annotation
    # Tasks (mcpserver.tasks): None, or "optional" (a task for a client that takes tasks, else answered
    # in the request) or "required" (only as a task); ``ask_first``: the request runs the function until
    # ``ctx.background()`` (its questions answered in input-required rounds), the task from the start.
    task: str | None = None
    ask_first: bool = False

    kind = "tool"

    def __post_init__(self) -> None:
        if self.task not in TASK_SUPPORT:
            raise ValueError(f"task= must be one of {', '.join(map(repr, TASK_SUPPORT))}, not {self.task!r}")
        if self.validator is None:
            object.__setattr__(self, "validator", ArgumentValidator(self.input_schema))

    @property
    def key(self) -> str:
        return self.name

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
        }
        for name, value in (
            ("title", self.title),
            ("outputSchema", self.output_schema),
            ("annotations", self.annotations),
        ):
            if value is not None:
                described[name] = value
        return described


@dataclass(frozen=True)
class PromptArgument:
    name: str
    description: str = ""
    required: bool = False
    choices: tuple[str, ...] = ()  # offered by completion/complete

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "required": self.required}


@dataclass(frozen=True)
class Prompt:
    name: str
    description: str
    handler: Callable[..., Any]
    arguments: tuple[PromptArgument, ...] = ()
    scopes: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    title: str | None = None
    completions: dict[str, Completer] = field(default_factory=dict, compare=False, repr=False)
    # Converts the string arguments to the function's types, when its arguments were inferred.
    validator: ArgumentModel | None = field(default=None, compare=False, repr=False)

    kind = "prompt"

    @property
    def key(self) -> str:
        return self.name

    def describe(self) -> dict[str, Any]:
        described = {"name": self.name, "description": self.description}
        described["arguments"] = [argument.describe() for argument in self.arguments]
        if self.title:
            described["title"] = self.title
        return described


@dataclass(frozen=True)
class Resource:
    """A resource at a fixed URI, or a template when ``uri`` holds ``{variables}`` (RFC 6570 level 1)."""

    uri: str
    name: str
    description: str
    handler: Callable[..., Any]
    mime_type: str = "text/plain"
    scopes: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    title: str | None = None
    completions: dict[str, Completer] = field(default_factory=dict, compare=False, repr=False)
    # Converts the template's variables to the function's types.
    validator: ArgumentModel | None = field(default=None, compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "template" if self.is_template else "resource"

    @property
    def key(self) -> str:
        return self.uri

    @property
    def is_template(self) -> bool:
        return bool(_TEMPLATE_VARIABLE.search(self.uri))

    @property
    def variables(self) -> list[str]:
        return template_variables(self.uri)

    def match(self, uri: str) -> dict[str, str] | None:
        """The template's variables filled from ``uri``, or None when it does not match."""
        pattern = "".join(
            f"(?P<{part}>[^/?#]+)" if index % 2 else re.escape(part)
            for index, part in enumerate(_TEMPLATE_VARIABLE.split(self.uri))
        )
        found = re.fullmatch(pattern, uri)
        return found.groupdict() if found else None

    def describe(self) -> dict[str, Any]:
        described = {"uriTemplate" if self.is_template else "uri": self.uri, "name": self.name}
        described.update(description=self.description, mimeType=self.mime_type)
        if self.title:
            described["title"] = self.title
        return described


Definition = Tool | Prompt | Resource

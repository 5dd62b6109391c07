"""The decorators that declare capabilities: ``@tool``, ``@prompt`` and ``@resource``.

They only attach a definition to the function, as its ``__mcp__`` attribute; nothing is registered at
import time (``registry.build_registry`` does that at start-up). What they infer, once, here:

- ``@tool``: without ``input_schema=``, the input schema and the argument validation from the
  function's signature, type hints, defaults and docstring (``signatures``); without
  ``output_schema=``, the output schema from its return annotation (``outputs``). An explicit
  ``input_schema=`` keeps the JSON Schema validator of ``schemas``; an explicit ``output_schema=``
  publishes that schema, and a returned dict is the structured content.
- ``@prompt``: without ``arguments=``, the arguments (name, description, required) from the signature
  and docstring; the string values are converted to the parameters' types.
- ``@resource``: a URI with ``{variables}`` is a template; each variable must be a parameter, and its
  value is converted to the parameter's type.

``@tool(input=Serializer)`` and ``output=Serializer`` (or ``Serializer(many=True)``) take the schemas from a
DRF serializer instead, which checks the arguments and writes the result (``drf.serializers``).

The description is the docstring; when parameters are inferred, without its parameter section, whose
lines describe the parameters in the schema instead. ``complete=`` maps an argument (or template
variable) to its completions (``completions``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import outputs, signatures
from .completions import completers
from .definitions import NO_ARGUMENTS, Definition, Prompt, PromptArgument, Resource, Tool, template_variables
from .docstrings import parse
from .signatures import ArgumentModel

# The intersection of the spec (1-128 of [A-Za-z0-9_.-]) and the conformance suite (1-64 of [A-Za-z0-9_./-]).
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

Function = Callable[..., Any]


def _refuse_bare(value: Any, decorator: str) -> None:
    if callable(value):
        raise TypeError(f"Use @{decorator}(...) with parentheses.")


def _attach(func: Function, definition: Definition) -> Function:
    func.__mcp__ = definition  # type: ignore[attr-defined]
    return func


def tool(
    name: str | None = None,
    *,
    description: str | None = None,
    input_schema: dict[str, Any] | None = None,
    output_schema: dict[str, Any] | None = None,
    scopes: Iterable[str] = (),
    roles: Iterable[str] = (),
    title: str | None = None,
    annotations: dict[str, Any] | None = None,
    client_capabilities: Iterable[str] = (),
    input: Any = None,
    output: Any = None,
    task: str | None = None,
    ask_first: bool = False,
) -> Callable[[Function], Function]:
    """Declare a tool; the function gets ``(context, **arguments)``, or ``(context, validated_data)`` with
    ``input=`` a DRF serializer. ``task="optional"`` or ``"required"`` lets it run as a task (the
    ``io.modelcontextprotocol/tasks`` extension, ``mcpserver.tasks``); with ``ask_first=True`` the call
    asks its questions first and the task starts where the function calls ``ctx.background()``."""
    _refuse_bare(name, "tool")
    if input is not None and input_schema is not None or output is not None and output_schema is not None:
        raise TypeError("Give a tool's schema either as a serializer or as a JSON Schema, not both.")

    def decorate(func: Function) -> Function:
        tool_name = func.__name__ if name is None else name  # an explicit "" is refused, not replaced
        if not _TOOL_NAME.match(tool_name):
            raise ValueError(f"Invalid tool name {tool_name!r}: use 1-64 of A-Z a-z 0-9 _ . -")
        validator, text = _arguments(func, input, input_schema)
        handler, published, inferred = _results(func, output, output_schema)
        return _attach(
            func,
            Tool(
                name=tool_name,
                description=description or text or tool_name,
                handler=handler,
                input_schema=input_schema or (validator.schema if validator else dict(NO_ARGUMENTS)),
                output_schema=published,
                scopes=tuple(scopes),
                roles=tuple(roles),
                title=title,
                annotations=annotations,
                client_capabilities=tuple(client_capabilities),
                validator=validator,  # type: ignore[arg-type]  (None: compiled from input_schema)
                output=inferred,
                task=task,
                ask_first=ask_first,
            ),
        )

    return decorate


def _arguments(func: Function, serializer: Any, schema: dict[str, Any] | None) -> tuple[Any, str | None]:
    """A tool's argument validator (None: compiled from ``schema``) and its description."""
    if serializer is not None:
        from .drf.serializers import SerializerInput, input_parameter

        return SerializerInput(serializer, input_parameter(func)), parse(func.__doc__).text
    if schema is not None:
        return None, inspect.getdoc(func)
    signature = signatures.read(func)
    validator = ArgumentModel(signature) if signature.parameters or signature.any_keyword else None
    return validator, signature.docstring.text


def _results(
    func: Function, serializer: Any, schema: dict[str, Any] | None
) -> tuple[Function, dict[str, Any] | None, outputs.Output | None]:
    """A tool's handler, its published output schema, and the output inferred from its annotation."""
    if serializer is not None:
        from .drf.serializers import SerializerOutput

        written = SerializerOutput(serializer)
        return written.wrap(func), written.schema, None
    if schema is not None:
        return func, schema, None
    inferred = outputs.infer(func)
    return func, inferred.schema if inferred else None, inferred


def prompt(
    name: str | None = None,
    *,
    description: str | None = None,
    arguments: Iterable[PromptArgument] | None = None,
    complete: Mapping[str, Any] | None = None,
    scopes: Iterable[str] = (),
    roles: Iterable[str] = (),
    title: str | None = None,
) -> Callable[[Function], Function]:
    """Declare a prompt; the function gets ``(context, **arguments)`` and returns text or messages."""
    _refuse_bare(name, "prompt")

    def decorate(func: Function) -> Function:
        prompt_name = name or func.__name__
        validator, text = None, inspect.getdoc(func)
        if arguments is None:
            signature = signatures.read(func)
            declared = tuple(
                PromptArgument(p.name, p.description, p.required, p.choices()) for p in signature.parameters
            )
            text = signature.docstring.text
            if signature.parameters:
                validator = ArgumentModel(signature, extra="ignore")
        else:
            declared = tuple(arguments)
        return _attach(
            func,
            Prompt(
                name=prompt_name,
                description=description or text or prompt_name,
                handler=func,
                arguments=declared,
                scopes=tuple(scopes),
                roles=tuple(roles),
                title=title,
                completions=completers(
                    complete, [a.name for a in declared], {a.name: a.choices for a in declared}
                ),
                validator=validator,
            ),
        )

    return decorate


def resource(
    uri: str,
    *,
    name: str | None = None,
    description: str | None = None,
    mime_type: str = "text/plain",
    complete: Mapping[str, Any] | None = None,
    scopes: Iterable[str] = (),
    roles: Iterable[str] = (),
    title: str | None = None,
) -> Callable[[Function], Function]:
    """Declare a resource (a template when ``uri`` has ``{variables}``); the function returns its content."""
    if callable(uri) or not isinstance(uri, str):
        raise TypeError("Use @resource(uri, ...) with the resource's URI.")

    def decorate(func: Function) -> Function:
        signature = signatures.read(func)
        variables = template_variables(uri)
        _check_variables(signature, variables, f"{func.__qualname__} ({uri})")
        inferred = {p.name: p.choices() for p in signature.parameters if p.name in variables}
        return _attach(
            func,
            Resource(
                uri=uri,
                name=name or func.__name__,
                description=description or signature.docstring.text or uri,
                handler=func,
                mime_type=mime_type,
                scopes=tuple(scopes),
                roles=tuple(roles),
                title=title,
                completions=completers(complete, variables, inferred),
                validator=ArgumentModel(signature, extra="ignore") if variables else None,
            ),
        )

    return decorate


def _check_variables(signature: signatures.Signature, variables: list[str], where: str) -> None:
    """Every template variable is a parameter (or goes to ``**kwargs``); every other parameter is optional."""
    missing = [v for v in variables if v not in signature.names and not signature.any_keyword]
    if missing:
        raise TypeError(f"{where}: no parameter for the template variable(s) {', '.join(missing)}")
    unfilled = [p.name for p in signature.parameters if p.required and p.name not in variables]
    if unfilled:
        raise TypeError(f"{where}: the required parameter(s) {', '.join(unfilled)} are not in the URI")

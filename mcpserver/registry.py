"""Declaring capabilities and collecting them: the decorators and the registry of their definitions.

The decorators only attach a definition to the function, as its ``__mcp__`` attribute (nothing is
registered at import time); ``AppConfig.ready()`` calls ``build_registry()``, which registers every
definition made in the modules named in ``MCPSERVER["CAPABILITIES"]``, and a duplicate name or an
invalid input schema fails at start-up.

This module is the import path for capability modules: with the decorators it exports the names a
capability function uses (``ToolError``, ``Progress``, ``Log``, ``PromptArgument``).
"""

from __future__ import annotations

import inspect
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from importlib import import_module
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from jsonschema import SchemaError as BrokenSchema

from .definitions import (
    NO_ARGUMENTS,
    Definition,
    Log,
    Progress,
    Prompt,
    PromptArgument,
    Resource,
    Tool,
    ToolError,
)

__all__ = [
    "Log",
    "Progress",
    "PromptArgument",
    "Registry",
    "ToolError",
    "build_registry",
    "prompt",
    "resource",
    "tool",
]

# The intersection of the spec (1-128 of [A-Za-z0-9_.-]) and the conformance suite (1-64 of [A-Za-z0-9_./-]).
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _refuse_bare(value: Any, decorator: str) -> None:
    if callable(value):
        raise TypeError(f"Use @{decorator}(...) with parentheses.")


def _attach(func: Callable[..., Any], definition: Definition) -> Callable[..., Any]:
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
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a tool; the function gets ``(context, **arguments)`` and its docstring is the description."""
    _refuse_bare(name, "tool")

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        tool_name = func.__name__ if name is None else name  # an explicit "" is refused, not replaced
        if not _TOOL_NAME.match(tool_name):
            raise ValueError(f"Invalid tool name {tool_name!r}: use 1-64 of A-Z a-z 0-9 _ . -")
        return _attach(
            func,
            Tool(
                name=tool_name,
                description=description or inspect.getdoc(func) or tool_name,
                handler=func,
                input_schema=input_schema or dict(NO_ARGUMENTS),
                output_schema=output_schema,
                scopes=tuple(scopes),
                roles=tuple(roles),
                title=title,
                annotations=annotations,
                client_capabilities=tuple(client_capabilities),
            ),
        )

    return decorate


def prompt(
    name: str | None = None,
    *,
    description: str | None = None,
    arguments: Iterable[PromptArgument] = (),
    scopes: Iterable[str] = (),
    roles: Iterable[str] = (),
    title: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a prompt; the function gets ``(context, **arguments)`` and returns text or messages."""
    _refuse_bare(name, "prompt")

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        prompt_name = name or func.__name__
        return _attach(
            func,
            Prompt(
                name=prompt_name,
                description=description or inspect.getdoc(func) or prompt_name,
                handler=func,
                arguments=tuple(arguments),
                scopes=tuple(scopes),
                roles=tuple(roles),
                title=title,
            ),
        )

    return decorate


def resource(
    uri: str,
    *,
    name: str | None = None,
    description: str | None = None,
    mime_type: str = "text/plain",
    scopes: Iterable[str] = (),
    roles: Iterable[str] = (),
    title: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a resource (a template when ``uri`` has ``{variables}``); the function returns its content."""
    if callable(uri) or not isinstance(uri, str):
        raise TypeError("Use @resource(uri, ...) with the resource's URI.")

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        return _attach(
            func,
            Resource(
                uri=uri,
                name=name or func.__name__,
                description=description or inspect.getdoc(func) or uri,
                handler=func,
                mime_type=mime_type,
                scopes=tuple(scopes),
                roles=tuple(roles),
                title=title,
            ),
        )

    return decorate


class Registry:
    """Name-keyed capabilities, one table per kind; lists come out sorted by key."""

    def __init__(self, definitions: Iterable[Definition] = ()) -> None:
        self.tables: dict[str, dict[str, Definition]] = {
            "tool": {},
            "prompt": {},
            "resource": {},
            "template": {},
        }
        self._sorted: dict[str, tuple[list[str], list[Definition]]] = {}  # kind -> (keys, items)
        for definition in definitions:
            self.register(definition)

    def register(self, definition: Definition) -> Definition:
        table = self.tables[definition.kind]
        if definition.key in table:
            raise ImproperlyConfigured(f"Duplicate MCP {definition.kind} {definition.key!r}.")
        if isinstance(definition, Tool):
            _check_input_schema(definition)
        table[definition.key] = definition
        self._sorted.pop(definition.kind, None)
        return definition

    def register_module(self, module_path: str) -> None:
        """Register every definition made in one module (not those it merely imports)."""
        module = import_module(module_path)
        for value in vars(module).values():
            definition = getattr(value, "__mcp__", None)
            if definition is not None and getattr(value, "__module__", None) == module.__name__:
                self.register(definition)

    def get(self, kind: str, key: str) -> Definition | None:
        return self.tables[kind].get(key)

    def all(self, kind: str, after: str | None = None) -> list[Definition]:
        """Sorted by key (sorted once per registration, not per call); with ``after``, the keys after it."""
        sorted_ = self._sorted.get(kind)
        if sorted_ is None:
            keys = sorted(self.tables[kind])
            sorted_ = self._sorted[kind] = (keys, [self.tables[kind][key] for key in keys])
        keys, items = sorted_
        return items[bisect_right(keys, after) :] if after is not None else list(items)

    def find_template(self, uri: str) -> tuple[Resource, dict[str, str]] | None:
        for template in self.all("template"):
            variables = template.match(uri)
            if variables is not None:
                return template, variables
        return None

    def __len__(self) -> int:
        return sum(len(table) for table in self.tables.values())


def _check_input_schema(tool: Tool) -> None:
    try:
        tool.validator.check()
    except BrokenSchema as exc:
        where = "/".join(map(str, exc.path)) or "(root)"
        raise ImproperlyConfigured(
            f"MCP tool {tool.name!r} has an invalid input schema at {where}: {exc.message}"
        ) from exc


# The conformance suite's fixtures: a package of their own, outside the app, imported only when asked.
FIXTURE_PACK = "mcp_conformance_fixtures.capabilities"


def build_registry() -> Registry:
    """The registry of every capability module named in the settings (plus the opt-in fixture pack)."""
    from . import conf

    registry = Registry()
    modules = list(conf.get("CAPABILITIES"))
    if conf.get("FIXTURE_PACK"):
        modules.append(FIXTURE_PACK)
    for module_path in modules:
        registry.register_module(module_path)
    return registry

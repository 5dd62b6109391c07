"""Collecting capabilities: the registry of their definitions, filled at start-up.

``AppConfig.ready()`` calls ``build_registry()``, which registers every definition made in the modules
named in ``MCPSERVER["CAPABILITIES"]`` and, unless ``MCPSERVER["AUTODISCOVER"]`` is off, in the
``mcp`` module of every installed app (as the admin finds ``admin`` modules); a duplicate name or an
invalid input schema fails at start-up.

This module is the import path for capability modules: with the decorators (``decorators``) it
exports the names a capability function uses (``ToolError``, ``NotFound``, ``Forbidden``,
``Progress``, ``Log``, ``PromptArgument``, the ``ClientRequestError`` family; ``Elicited``,
``ClientCannot`` and ``Question``, the questions ``ctx.ask`` asks together).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from importlib import import_module

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import module_has_submodule
from jsonschema import SchemaError as BrokenSchema

from .decorators import prompt, resource, tool
from .definitions import (
    CallCancelled,
    ClientCapabilityMissing,
    ClientRefused,
    ClientRequestError,
    ClientTimeout,
    ClientUnreachable,
    Definition,
    Forbidden,
    Log,
    NotFound,
    Progress,
    PromptArgument,
    Resource,
    Tool,
    ToolError,
)
from .interaction import ClientCannot, Elicited, Question

__all__ = [
    "CallCancelled",
    "ClientCapabilityMissing",
    "ClientRefused",
    "ClientRequestError",
    "ClientTimeout",
    "ClientCannot",
    "ClientUnreachable",
    "Elicited",
    "Forbidden",
    "Log",
    "NotFound",
    "Progress",
    "PromptArgument",
    "Question",
    "Registry",
    "ToolError",
    "build_registry",
    "prompt",
    "resource",
    "tool",
]

DISCOVERED_MODULE = "mcp"  # the module of an installed app that discovery imports


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
        self._completes: bool | None = None
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
        self._completes = None
        return definition

    def register_module(self, module_path: str) -> None:
        """Register every definition made in one module (not those it merely imports). A value's
        ``__mcp__`` is one definition, or a tuple of them (a declaration that makes several tools)."""
        module = import_module(module_path)
        for value in vars(module).values():
            made = getattr(value, "__mcp__", None)
            if made is not None and getattr(value, "__module__", None) == module.__name__:
                for definition in made if isinstance(made, tuple) else (made,):
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

    def completes(self) -> bool:
        """Whether any prompt or template offers completions (the ``completions`` capability)."""
        if self._completes is None:
            kinds = ("prompt", "template")
            self._completes = any(item.completions for kind in kinds for item in self.tables[kind].values())
        return self._completes

    def runs_tasks(self) -> bool:
        """Whether any tool may run as a task (the tasks extension is offered then)."""
        return any(tool.task for tool in self.tables["tool"].values())

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


def discovered() -> Iterator[str]:
    """The ``mcp`` module of each installed app that has one, in ``INSTALLED_APPS`` order."""
    for app_config in apps.get_app_configs():
        if module_has_submodule(app_config.module, DISCOVERED_MODULE):
            yield f"{app_config.name}.{DISCOVERED_MODULE}"


def build_registry() -> Registry:
    """The registry of the capability modules: those named in the settings, the installed apps' ``mcp``
    modules (unless ``AUTODISCOVER`` is off; one named in the settings too is read once) and the opt-in
    fixture pack."""
    from . import conf

    registry = Registry()
    modules = list(conf.get("CAPABILITIES"))
    if conf.get("AUTODISCOVER"):
        modules.extend(module for module in discovered() if module not in modules)
    if conf.get("FIXTURE_PACK"):
        modules.append(FIXTURE_PACK)
    for module_path in modules:
        registry.register_module(module_path)
    return registry

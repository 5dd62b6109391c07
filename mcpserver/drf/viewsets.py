"""``expose_viewset``: a DRF ViewSet's actions as MCP tools, in one declaration in an app's ``mcp.py``.

    notes_tools = expose_viewset(NoteViewSet, prefix="notes", scopes={"list": ["notes:read"]})

makes ``notes_list``, ``notes_retrieve``, ``notes_create``, ... (each action the ViewSet has, or those
named in ``actions``; an ``@action`` is named by its method name). Each runs the action for real
(``actions``); discovery registers the tools because the value assigned in the module carries them
(``ViewSetTools.__mcp__``, a tuple of definitions).
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Iterable, Iterator, Mapping

from django.core.exceptions import ImproperlyConfigured

from ..definitions import Tool
from .actions import Action, ActionTool

STANDARD = {  # action: (HTTP method, about one object)
    "list": ("get", False),
    "create": ("post", False),
    "retrieve": ("get", True),
    "update": ("put", True),
    "partial_update": ("patch", True),
    "destroy": ("delete", True),
}
HINTS = {  # MCP tool annotations
    "list": {"readOnlyHint": True},
    "retrieve": {"readOnlyHint": True},
    "create": {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False},
    "update": {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": True},
    "partial_update": {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": True},
    "destroy": {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": True},
}
DESCRIPTIONS = {  # {one} and {many}: the model's verbose names (or the prefix)
    "list": "List {many}.",
    "create": "Create a {one}.",
    "retrieve": "Get a {one} by its {lookup}.",
    "update": "Replace a {one} (every field), by its {lookup}.",
    "partial_update": "Change some fields of a {one}, by its {lookup}.",
    "destroy": "Delete a {one}, by its {lookup}.",
}
_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")

PerAction = Iterable[str] | Mapping[str, Iterable[str]]


class ViewSetTools:
    """The tools one ``expose_viewset`` made, registered together when found in a capability module."""

    def __init__(self, tools: Iterable[Tool], module: str | None) -> None:
        self.__mcp__ = tuple(tools)
        self.__module__ = module  # where the declaration is: the module that registers them

    def __iter__(self) -> Iterator[Tool]:
        return iter(self.__mcp__)

    def __len__(self) -> int:
        return len(self.__mcp__)

    def __getitem__(self, name: str) -> Tool:
        for tool in self.__mcp__:
            if tool.name == name:
                return tool
        raise KeyError(name)


def expose_viewset(
    viewset: type,
    prefix: str,
    actions: Iterable[str] | None = None,
    *,
    scopes: PerAction = (),
    roles: PerAction = (),
    descriptions: Mapping[str, str] | None = None,
) -> ViewSetTools:
    """The tools ``<prefix>_<action>`` for the ViewSet's actions (all of its standard ones by default).

    ``scopes`` and ``roles`` are a list for every tool, or a mapping from action to list; ``descriptions``
    replaces the description of some actions (else the action method's docstring, or a generic line).
    """
    if not _PREFIX.match(prefix):
        raise ValueError(f"Invalid tool prefix {prefix!r}: use 1-40 of A-Z a-z 0-9 _ . -")
    chosen = list(actions) if actions is not None else [name for name in STANDARD if hasattr(viewset, name)]
    # As namedtuple and enum do: the module whose code called us is where the tools are declared.
    module = sys._getframe(1).f_globals.get("__name__")
    tools = [
        _tool(viewset, prefix, _action(viewset, name), scopes, roles, (descriptions or {}).get(name))
        for name in chosen
    ]
    return ViewSetTools(tools, module)


def _action(viewset: type, name: str) -> Action:
    if name in STANDARD:
        if not hasattr(viewset, name):
            raise ImproperlyConfigured(f"{viewset.__name__} has no {name!r} action.")
        method, detail = STANDARD[name]
        return Action(name, method, detail)
    extra = {func.__name__: func for func in viewset.get_extra_actions()}
    if name not in extra:
        raise ImproperlyConfigured(f"{viewset.__name__} has no {name!r} action.")
    func = extra[name]
    method = next(iter(func.mapping))
    return Action(name, method, func.detail, tuple(func.kwargs.items()))


def _tool(
    viewset: type, prefix: str, action: Action, scopes: PerAction, roles: PerAction, description: str | None
) -> Tool:
    name = f"{prefix}_{action.name}"
    runner = ActionTool(viewset, prefix, action, name)
    generic = DESCRIPTIONS.get(action.name, "{action} ({many}).")
    nouns = _nouns(viewset, prefix)
    own = inspect.getdoc(getattr(viewset, action.name))
    hints = {**HINTS.get(action.name, {}), "openWorldHint": False}
    return Tool(
        name=name,
        description=description or own or generic.format(action=action.name, lookup=runner.argument, **nouns),
        handler=runner,
        input_schema=runner.schema,
        output_schema=runner.output_schema,
        scopes=_for(scopes, action.name),
        roles=_for(roles, action.name),
        annotations=hints,
        validator=runner,  # type: ignore[arg-type]
    )


def _nouns(viewset: type, prefix: str) -> dict[str, str]:
    """The model's verbose names (the documented ``Model._meta`` API), else the prefix for both."""
    serializer_meta = getattr(getattr(viewset, "serializer_class", None), "Meta", None)
    model = getattr(getattr(viewset, "queryset", None), "model", None) or getattr(
        serializer_meta, "model", None
    )
    meta = getattr(model, "_meta", None)
    if meta is None:
        return {"one": prefix, "many": prefix}
    return {"one": str(meta.verbose_name), "many": str(meta.verbose_name_plural)}


def _for(value: PerAction, action: str) -> tuple[str, ...]:
    if isinstance(value, Mapping):
        return tuple(value.get(action, ()))
    if isinstance(value, str):
        raise TypeError("scopes and roles are lists of names, not one string.")
    return tuple(value)

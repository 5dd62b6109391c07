"""A tool's return annotation as its output schema, and its return values as ``structuredContent``.

Structured (an ``outputSchema`` is published, results carry ``structuredContent`` and a text block
of its JSON): a dataclass, a TypedDict, a pydantic model or ``dict[str, X]`` as they are; any other
type pydantic can describe (``int``, ``float``, ``bool``, ``list[str]``, ``X | None``, an Enum, ...)
wrapped as ``{"result": value}``, as the official SDK does, because MCP wants an object.

Not structured (today's content rules apply): no annotation, ``str`` (text), ``None``, ``Any``,
``object``, ``bytes``, a bare ``dict`` or ``list``, and lists of dicts or of ``Any`` (the shape of
content blocks). A generator tool's annotation ``Generator[Y, S, R]`` is read as ``R``.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import typing
from collections.abc import Callable
from typing import Annotated, Any, get_args, get_origin

import typing_extensions
from pydantic import BaseModel, TypeAdapter, ValidationError, create_model

from . import typeschemas

_UNSTRUCTURED = {None, type(None), str, bytes, dict, list, Any, object}
_GENERATORS = {collections.abc.Generator, collections.abc.Iterator, collections.abc.Iterable}


class OutputError(ValueError):
    """A tool returned a value its return annotation does not allow."""


class Output:
    """The output side of a tool: ``schema`` to publish, ``structured(value)`` for each result."""

    def __init__(self, annotation: Any, wrap: bool) -> None:
        self.wrap = wrap
        self.adapter = TypeAdapter(create_model("Output", result=(annotation, ...)) if wrap else annotation)
        self.schema = typeschemas.schema_of(self.adapter, mode="serialization")

    def structured(self, value: Any) -> dict[str, Any]:
        """The JSON-ready structured content: checked against the annotation, then dumped."""
        try:
            checked = self.adapter.validate_python({"result": value} if self.wrap else value)
            return self.adapter.dump_python(checked, mode="json")
        except ValidationError as exc:
            raise OutputError(str(exc)) from None


def infer(func: Callable[..., Any]) -> Output | None:
    """The ``Output`` of ``func``'s return annotation, or None when its results are not structured."""
    try:
        annotation = typing.get_type_hints(func, include_extras=True).get("return")
    except (NameError, TypeError) as exc:
        raise TypeError(
            f"The return type of {getattr(func, '__qualname__', func)} cannot be resolved: {exc}"
        ) from exc
    if annotation is not None and get_origin(annotation) in _GENERATORS:
        arguments = get_args(annotation)
        annotation = (
            arguments[2] if get_origin(annotation) is collections.abc.Generator and arguments else None
        )
    annotation = typeschemas.readable(annotation)
    if _unstructured(annotation):
        return None
    return Output(annotation, wrap=not _is_object(annotation))


def _unstructured(annotation: Any) -> bool:
    bare = get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation
    if bare in _UNSTRUCTURED:
        return True
    if get_origin(bare) in (list, collections.abc.Sequence):
        items = get_args(bare)
        return not items or items[0] in (dict, Any) or get_origin(items[0]) is dict
    return False


def _is_object(annotation: Any) -> bool:
    bare = get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation
    if get_origin(bare) is dict:
        return get_args(bare)[:1] == (str,)
    if not isinstance(bare, type):
        return False
    return (
        dataclasses.is_dataclass(bare) or typing_extensions.is_typeddict(bare) or issubclass(bare, BaseModel)
    )

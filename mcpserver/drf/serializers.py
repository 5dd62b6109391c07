"""A DRF serializer as a tool's input (``@tool(input=NoteSerializer)``) or output (``output=``).

Input: the published schema is the serializer's request schema (``schemas``); a call's arguments are
checked by the serializer itself (what ``is_valid()`` runs: ``run_validation(initial_data)``, with
``context["request"]`` the caller as a DRF request and ``context["ctx"]`` the call's context; the
instance comes from ``instances``), and the function gets the validated data as its one argument after
the context. Arguments the serializer does not read are refused, as the published
``additionalProperties: false`` says. Serializer errors become ``SchemaError``: each field and DRF's
message, ``arguments.title: This field may not be blank.``.

Output: the returned instance (or, with ``many=True``, the list of them, wrapped as ``{"items": [...]}``)
is written by the serializer (what ``.data`` runs: ``to_representation()``), and that is the structured
content.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterator
from typing import Any

from jsonschema import Draft202012Validator
from rest_framework.exceptions import ValidationError
from rest_framework.serializers import BaseSerializer, ListSerializer
from rest_framework.settings import api_settings
from rest_framework.utils.encoders import JSONEncoder

from .. import results
from ..schemas import MAX_REASON, SchemaError
from ..signatures import MAX_ERRORS
from .instances import Instances
from .schemas import Inspector


def serializer_class(serializer: Any, where: str) -> type[BaseSerializer]:
    """The class of a serializer given as a class or an instance; ``TypeError`` for anything else."""
    found = serializer if isinstance(serializer, type) else type(serializer)
    if not issubclass(found, BaseSerializer):
        raise TypeError(f"{where}: {serializer!r} is not a DRF serializer.")
    return found


class SerializerInput:
    """A tool's arguments checked by a serializer; ``validate`` gives ``{parameter: validated_data}``."""

    def __init__(self, serializer: Any, parameter: str) -> None:
        self.serializer_class = serializer_class(serializer, "input")
        self.instances = Instances(self.serializer_class)
        self.parameter = parameter
        schema = Inspector().serializer(self.serializer_class, "request")
        self.schema = {**schema, "additionalProperties": False}
        self.names = frozenset(schema.get("properties", ()))

    def validate(self, arguments: dict[str, Any], ctx: Any = None) -> dict[str, Any]:
        unknown = [name for name in arguments if name not in self.names]
        if unknown:
            raise SchemaError(_joined([f"arguments.{name}: Unknown field." for name in unknown]))
        with self.instances(ctx) as serializer:
            serializer.initial_data = arguments
            try:
                validated = serializer.run_validation(arguments)  # what is_valid() runs
            except ValidationError as exc:
                raise SchemaError(reasons(exc.detail)) from None
            finally:
                del serializer.initial_data
        return {self.parameter: validated}

    def check(self) -> None:
        """Raise ``jsonschema.SchemaError`` if drf-spectacular made a schema that is not 2020-12."""
        Draft202012Validator.check_schema(self.schema)


class SerializerOutput:
    """A tool's results written by a serializer: ``schema`` to publish, ``result`` for each value."""

    def __init__(self, serializer: Any) -> None:
        self.many = isinstance(serializer, ListSerializer)
        self.serializer_class = serializer_class(serializer.child if self.many else serializer, "output")
        self.instances = Instances(self.serializer_class, self.many)
        item = Inspector().serializer(self.serializer_class, "response")
        self.schema = items_schema(item) if self.many else item

    def result(self, value: Any, ctx: Any) -> dict[str, Any]:
        with self.instances(ctx) as serializer:
            data = json_ready(serializer.to_representation(value))  # what .data runs
        return results.structured({"items": data} if self.many else data)

    def wrap(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func`` with its return value written by the serializer (a generator's, for a generator)."""
        if inspect.isgeneratorfunction(func):

            @functools.wraps(func)
            def steps(ctx: Any, *args: Any, **kwargs: Any) -> Any:
                return self.result((yield from func(ctx, *args, **kwargs)), ctx)

            return steps

        @functools.wraps(func)
        def call(ctx: Any, *args: Any, **kwargs: Any) -> Any:
            return self.result(func(ctx, *args, **kwargs), ctx)

        return call


def items_schema(item: dict[str, Any], **more: Any) -> dict[str, Any]:
    """``{"items": [item, ...], **more}`` (definitions stay at the root, where references find them)."""
    defs = item.get("$defs")
    item = {key: value for key, value in item.items() if key != "$defs"}
    schema = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": item}, **more},
        "required": ["items"],
    }
    return {**schema, "$defs": defs} if defs else schema


def input_parameter(func: Callable[..., Any]) -> str:
    """The name of the parameter after the context, which receives the validated data."""
    params = list(inspect.signature(func).parameters.values())
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if len(params) < 2 or params[1].kind not in (*positional, inspect.Parameter.KEYWORD_ONLY):
        usage = f"def {func.__name__}(ctx, data)"
        raise TypeError(f"{func.__qualname__} must take the context and the validated data: {usage}")
    if params[1].kind is inspect.Parameter.POSITIONAL_ONLY:
        raise TypeError(f"{func.__qualname__}: the data parameter {params[1].name!r} is positional-only.")
    return params[1].name


def json_ready(data: Any) -> Any:
    """``data`` as JSON types, converted as DRF's JSON renderer converts them (dates, UUIDs, decimals)."""
    return json.loads(json.dumps(data, cls=JSONEncoder))


def reasons(errors: Any, where: str = "arguments") -> str:
    """DRF's errors, each as ``where.field[0].subfield: message``, joined by ``; ``."""
    return _joined(list(_flattened(errors, where)))


def _joined(parts: list[str]) -> str:
    kept = [part if len(part) <= MAX_REASON else part[: MAX_REASON - 1] + "…" for part in parts[:MAX_ERRORS]]
    if len(parts) > MAX_ERRORS:
        kept.append(f"and {len(parts) - MAX_ERRORS} more")
    return "; ".join(kept)


def _flattened(errors: Any, path: str) -> Iterator[str]:
    if isinstance(errors, dict):
        for key, value in errors.items():
            if key == api_settings.NON_FIELD_ERRORS_KEY:
                yield from _flattened(value, path)
            else:
                yield from _flattened(value, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}")
    elif isinstance(errors, list | tuple):
        for index, item in enumerate(errors):
            if isinstance(item, dict | list):  # a list serializer's errors: one entry per item
                yield from _flattened(item, f"{path}[{index}]")
            else:
                yield f"{path}: {item}"
    else:
        yield f"{path}: {errors}"

"""A capability function's parameters, read from its signature, type hints and docstring, and the
pydantic model that publishes their JSON Schema and validates arguments against it.

The first parameter is the request context (annotated or not) and is never an argument. The model is
built once, when the function is decorated. Each field is named ``p<index>`` and aliased to its
parameter, so that any parameter name works (``json``, ``schema``, ``_private``: names a pydantic
model would refuse or shadow). Descriptions come from ``Annotated[..., Field(description=...)]`` when
given, else from the docstring's parameter sections; defaults are the function's own (or a ``Field``
used as the default).

Two validation modes. Tool arguments are JSON, so they are validated as JSON in strict mode: what the
published schema refuses is refused (``"2"`` is no integer), while JSON's own spellings of other
types are read (an ISO 8601 string for a ``datetime``, an Enum's value, an object for a dataclass,
TypedDict or model) and the function gets Python values. Prompt arguments and URI template variables
are strings on the wire, so they are validated in lax mode (``"2"`` becomes 2 for an ``int``).
"""

from __future__ import annotations

import enum
import inspect
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

import orjson
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, create_model
from pydantic.fields import FieldInfo

from . import typeschemas
from .docstrings import Docstring, parse
from .schemas import MAX_REASON, SchemaError

MAX_ERRORS = 10  # reasons named per failure; the rest are counted
_REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Parameter:
    name: str
    annotation: Any
    default: Any = _REQUIRED
    description: str = ""

    @property
    def required(self) -> bool:
        if isinstance(self.default, FieldInfo):
            return self.default.is_required()
        return self.default is _REQUIRED and not _has_default(self.annotation)

    def choices(self) -> tuple[str, ...]:
        """The string values a ``Literal`` or ``Enum`` annotation allows (what completion offers)."""
        return _choices(self.annotation)


@dataclass(frozen=True)
class Signature:
    parameters: tuple[Parameter, ...]
    docstring: Docstring
    any_keyword: bool = False  # the function takes **kwargs

    @property
    def names(self) -> set[str]:
        return {parameter.name for parameter in self.parameters}


def read(func: Callable[..., Any]) -> Signature:
    """The parameters after the context; ``TypeError`` for a signature no call could satisfy."""
    where = getattr(func, "__qualname__", repr(func))
    params = list(inspect.signature(func).parameters.values())
    if not params or params[0].kind not in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        raise TypeError(f"{where} must take the request context as its first, positional parameter.")
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except (NameError, TypeError) as exc:
        raise TypeError(f"The type hints of {where} cannot be resolved: {exc}") from exc
    docstring = parse(func.__doc__)
    parameters, any_keyword = [], False
    for param in params[1:]:
        if param.kind is param.POSITIONAL_ONLY:
            raise TypeError(f"{where}: parameter {param.name!r} is positional-only; arguments come by name.")
        if param.kind is param.VAR_KEYWORD:
            any_keyword = True
        elif param.kind is not param.VAR_POSITIONAL:  # *args can never be given by name: it stays empty
            annotation = typeschemas.readable(hints.get(param.name, Any))
            parameters.append(
                Parameter(param.name, annotation, param.default, docstring.parameters.get(param.name, ""))
            )
    return Signature(tuple(parameters), docstring, any_keyword)


class ArgumentModel:
    """The parameters as a pydantic model: ``schema`` to publish, ``validate`` for tool arguments (JSON,
    strict), ``validate_strings`` for prompt arguments and template variables (strings, lax).

    ``extra`` is what happens to arguments the function does not name: ``forbid`` (tools: the schema
    says ``additionalProperties: false``), ``ignore`` (prompts), or ``allow`` when it takes ``**kwargs``.
    """

    def __init__(self, signature: Signature, extra: str = "forbid") -> None:
        extra = "allow" if signature.any_keyword else extra
        self.names = {f"p{index}": p.name for index, p in enumerate(signature.parameters)}
        fields = {f"p{index}": _field(p) for index, p in enumerate(signature.parameters)}
        config = ConfigDict(extra=extra)  # type: ignore[typeddict-item]
        self.model = create_model("Arguments", __config__=config, **fields)  # type: ignore[call-overload]
        self.adapter = TypeAdapter(self.model)
        self.schema = _published(typeschemas.schema_of(self.adapter))

    def validate(self, arguments: dict[str, Any], ctx: Any = None) -> dict[str, Any]:
        """The function's keyword arguments from a call's JSON arguments; ``SchemaError`` saying each
        field that fails and why, e.g. ``arguments.count: Input should be a valid integer``. (``ctx``,
        the call's context, is not needed.)"""
        try:
            found = self.model.model_validate_json(_json(arguments), strict=True)
        except ValidationError as exc:
            raise SchemaError(reasons(exc)) from None
        return self._keywords(found)

    def validate_strings(self, values: dict[str, str], where: str = "arguments") -> dict[str, Any]:
        try:
            found = self.model.model_validate(values)
        except ValidationError as exc:
            raise SchemaError(reasons(exc, where)) from None
        return self._keywords(found)

    def _keywords(self, found: Any) -> dict[str, Any]:
        keywords = {self.names[field]: value for field, value in found.__dict__.items()}
        if found.model_extra:
            keywords.update(found.model_extra)
        return keywords

    def check(self) -> None:
        """Nothing to check: a schema pydantic generated is a valid 2020-12 schema."""


def _field(parameter: Parameter) -> Any:
    """``Annotated[type, description, the hint's own metadata, a Field default, alias]``: later
    metadata wins, so an explicit ``Field(description=...)`` beats the docstring's."""
    base, metadata = parameter.annotation, ()
    if get_origin(base) is Annotated:
        base, metadata = get_args(base)[0], tuple(base.__metadata__)
    described = (Field(description=parameter.description),) if parameter.description else ()
    default = parameter.default
    as_field = (default,) if isinstance(default, FieldInfo) else ()
    annotated = Annotated[(base, *described, *metadata, *as_field, Field(alias=parameter.name))]
    if default is _REQUIRED or as_field:
        return annotated
    return (annotated, default)


def _published(schema: dict[str, Any]) -> dict[str, Any]:
    """No ``properties`` when there are none: a tool without arguments publishes what the spec shows."""
    if schema.get("properties") == {}:
        del schema["properties"]
    return schema


def _json(arguments: dict[str, Any]) -> bytes | str:
    try:
        return orjson.dumps(arguments)
    except TypeError:  # an integer beyond 64 bits: the standard library writes it
        return json.dumps(arguments)


def reasons(error: ValidationError, where: str = "arguments") -> str:
    """Each failing field and why, ``where.field[0]: message``, joined by ``; ``."""
    found = error.errors(include_url=False, include_input=False, include_context=False)
    parts = []
    for item in found[:MAX_ERRORS]:
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"])
        part = f"{where}{path}: {item['msg']}"
        parts.append(part if len(part) <= MAX_REASON else part[: MAX_REASON - 1] + "…")
    if len(found) > MAX_ERRORS:
        parts.append(f"and {len(found) - MAX_ERRORS} more")
    return "; ".join(parts)


def _has_default(annotation: Any) -> bool:
    metadata = annotation.__metadata__ if get_origin(annotation) is Annotated else ()
    return any(isinstance(item, FieldInfo) and not item.is_required() for item in metadata)


def _choices(annotation: Any) -> tuple[str, ...]:
    origin, arguments = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _choices(arguments[0])
    if origin is Literal:
        return tuple(value for value in arguments if isinstance(value, str))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return tuple(member.value for member in annotation if isinstance(member.value, str))
    if origin in (typing.Union, types.UnionType):
        return tuple(choice for argument in arguments for choice in _choices(argument))
    return ()

"""A small JSON Schema validator for tool and prompt arguments (the keywords tool schemas use).

Covers ``type``, ``enum``, ``const``, ``properties``, ``required``, ``additionalProperties``,
``items``, ``minimum``/``maximum``, ``minLength``/``maxLength``, ``minItems``/``maxItems``,
``pattern`` and local ``$ref`` into ``$defs``. Unknown keywords are ignored, as the spec allows.
"""

from __future__ import annotations

import re
from typing import Any

_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


class SchemaError(ValueError):
    """The first place where a value breaks its schema."""


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return root.get("$defs", {}).get(ref.split("/", 2)[2], {})
    return schema


def _check_type(schema: dict[str, Any], value: Any, where: str) -> None:
    expected = schema.get("type")
    if expected is None:
        return
    names = expected if isinstance(expected, list) else [expected]
    if not any(_TYPES.get(name, lambda v: True)(value) for name in names):
        raise SchemaError(f"{where} must be of type {' or '.join(map(str, names))}")


def _check_bounds(schema: dict[str, Any], value: Any, where: str) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaError(f"{where} must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaError(f"{where} must be at most {schema['maximum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise SchemaError(f"{where} must have at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise SchemaError(f"{where} must have at most {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise SchemaError(f"{where} does not match its pattern")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            raise SchemaError(f"{where} must have at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise SchemaError(f"{where} must have at most {schema['maxItems']} items")


def _check_object(schema: dict[str, Any], value: dict[str, Any], where: str, root: dict[str, Any]) -> None:
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            raise SchemaError(f"{where}.{name} is required")
    for name, item in value.items():
        if name in properties:
            validate(item, properties[name], root, f"{where}.{name}")
        elif schema.get("additionalProperties") is False:
            raise SchemaError(f"{where}.{name} is not allowed")
        elif isinstance(schema.get("additionalProperties"), dict):
            validate(item, schema["additionalProperties"], root, f"{where}.{name}")


def validate(
    value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None, where: str = "arguments"
) -> None:
    """Raise ``SchemaError`` with a short, caller-safe message when ``value`` breaks ``schema``."""
    root = schema if root is None else root
    schema = _resolve(schema, root)
    _check_type(schema, value, where)
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaError(f"{where} must be one of {', '.join(map(str, schema['enum']))}")
    if "const" in schema and value != schema["const"]:
        raise SchemaError(f"{where} must be {schema['const']!r}")
    _check_bounds(schema, value, where)
    if isinstance(value, dict):
        _check_object(schema, value, where, root)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            validate(item, schema["items"], root, f"{where}[{index}]")

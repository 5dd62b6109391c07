"""The argument validator: the JSON Schema keywords tool schemas use, and caller-safe messages."""

from __future__ import annotations

import pytest

from mcpserver.schemas import SchemaError, validate

SCHEMA = {
    "type": "object",
    "$defs": {"point": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}},
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[a-z]+$"},
        "count": {"type": "integer", "minimum": 1, "maximum": 3},
        "ratio": {"type": "number"},
        "flag": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
        "kind": {"enum": ["a", "b"]},
        "fixed": {"const": 1},
        "at": {"$ref": "#/$defs/point"},
        "maybe": {"type": ["string", "null"]},
    },
    "required": ["name"],
    "additionalProperties": False,
}


def test_valid_arguments_pass():
    validate(
        {
            "name": "abc",
            "count": 2,
            "ratio": 0.5,
            "flag": True,
            "tags": ["x"],
            "kind": "a",
            "fixed": 1,
            "at": {"x": 1},
            "maybe": None,
        },
        SCHEMA,
    )
    validate({"name": "a", "count": 2.0}, SCHEMA)  # an integral float is an integer


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"name": ""},
        {"name": "toolong"},
        {"name": "ABC"},
        {"name": "a", "count": 0},
        {"name": "a", "count": True},
        {"name": "a", "count": 1.5},
        {"name": "a", "ratio": "1"},
        {"name": "a", "tags": []},
        {"name": "a", "tags": ["x", "y", "z"]},
        {"name": "a", "tags": [1]},
        {"name": "a", "kind": "c"},
        {"name": "a", "fixed": 2},
        {"name": "a", "at": {}},
        {"name": "a", "extra": 1},
        {"name": "a", "maybe": 3},
    ],
)
def test_invalid_arguments_fail_with_the_path(arguments):
    with pytest.raises(SchemaError) as raised:
        validate(arguments, SCHEMA)
    assert str(raised.value).startswith("arguments")

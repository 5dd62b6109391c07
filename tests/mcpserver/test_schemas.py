"""The argument validator: JSON Schema 2020-12 by jsonschema, schemas checked, caller-safe messages."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema import SchemaError as BrokenSchema

from mcpserver.schemas import FORMATS, MAX_REASON, ArgumentValidator, SchemaError

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


def validate(arguments, schema):
    validator = ArgumentValidator(schema)
    validator.check()
    validator.validate(arguments)


def reason(arguments, schema) -> str:
    with pytest.raises(SchemaError) as raised:
        validate(arguments, schema)
    return str(raised.value)


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
    assert reason(arguments, SCHEMA).startswith("arguments")


def test_the_reason_says_where_and_why():
    assert reason({"name": "a", "count": 4}, SCHEMA) == "arguments.count: 4 is greater than the maximum of 3"
    assert reason({"name": "a", "tags": ["x", 1]}, SCHEMA) == "arguments.tags[1]: 1 is not of type 'string'"
    assert reason({"name": "a", "at": {"x": "1"}}, SCHEMA) == "arguments.at.x: '1' is not of type 'integer'"
    assert reason({}, SCHEMA) == "arguments: 'name' is a required property"


OPTIONAL_INT = {"type": "object", "properties": {"n": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}}


@pytest.mark.parametrize("value", [1, None])
def test_any_of_integer_or_null_accepts_both(value):
    validate({"n": value}, OPTIONAL_INT)


@pytest.mark.parametrize("value", ["not-an-int", 1.5, True, {}])
def test_any_of_integer_or_null_refuses_anything_else(value):
    """``Optional[int]`` as type hints generate it; the hand-written subset ignored ``anyOf``."""
    assert reason({"n": value}, OPTIONAL_INT).startswith("arguments.n: ")


def test_exclusive_minimum():
    schema = {"type": "object", "properties": {"n": {"type": "number", "exclusiveMinimum": 0}}}
    validate({"n": 0.1}, schema)
    assert reason({"n": 0}, schema) == "arguments.n: 0 is less than or equal to the minimum of 0"


@pytest.mark.parametrize(
    ("format_", "good", "bad"),
    [
        # jsonschema checks these with no extra package installed:
        ("email", "a@example.com", "not-an-email"),
        ("date", "2026-12-03", "2026-13-03"),
        ("ipv4", "192.0.2.1", "192.0.2.300"),
        ("uuid", "12345678-1234-5678-1234-567812345678", "1234"),
        # ours, from the standard library (RFC 3339 §5.6):
        ("date-time", "2026-12-03T10:15:00Z", "2026-12-03"),
        ("date-time", "2016-12-31T23:59:60+01:00", "2026-12-03T25:00:00Z"),
    ],
)
def test_formats_are_checked(format_, good, bad):
    schema = {"type": "object", "properties": {"v": {"type": "string", "format": format_}}}
    validate({"v": good}, schema)
    assert reason({"v": bad}, schema) == f"arguments.v: {bad!r} is not a {format_!r}"


def test_ref_into_defs_with_an_anchor():
    schema = {
        "type": "object",
        "$defs": {"city": {"$anchor": "cityDef", "type": "string", "minLength": 2}},
        "properties": {"by_path": {"$ref": "#/$defs/city"}, "by_anchor": {"$ref": "#cityDef"}},
    }
    validate({"by_path": "Paris", "by_anchor": "Lyon"}, schema)
    assert reason({"by_path": "P"}, schema) == "arguments.by_path: 'P' is too short"
    assert reason({"by_anchor": 5}, schema) == "arguments.by_anchor: 5 is not of type 'string'"


def test_a_long_value_is_not_echoed_back_whole():
    schema = {"type": "object", "properties": {"m": {"type": "string", "maxLength": 10}}}
    text = reason({"m": "x" * 10_000}, schema)
    assert text.startswith("arguments.m: 'xxx") and len(text) == MAX_REASON


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "objec"},
        {"type": "object", "properties": {"a": {"type": "string", "pattern": "(["}}},
        {"type": "object", "properties": {"a": {"minimum": "1"}}},
        {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
        # Never fetched: a remote reference would be a network call on the tools/call path.
        {"type": "object", "properties": {"a": {"$ref": "https://example.com/schema.json"}}},
    ],
)
def test_a_broken_schema_is_refused(schema):
    with pytest.raises(BrokenSchema):
        ArgumentValidator(schema).check()


# The validator checks the root's properties with validators built once (a speed-up on tools/call);
# its verdict must be jsonschema's own, whatever else the root says about them.
SPLIT_SCHEMAS = [
    SCHEMA,
    OPTIONAL_INT,
    {"type": "object", "properties": {"a": {"type": "integer"}}, "unevaluatedProperties": False},
    {  # read as 2020-12 like every tool schema, whatever it says
        "$schema": "http://json-schema.org/draft-07/schema#",
        "properties": {"a": {"type": "integer"}},
        "unevaluatedProperties": False,
    },
    {"properties": {"a": {"type": "integer"}}, "patternProperties": {"^b": {"type": "string"}}},
    {"properties": {"a": {"type": "integer"}, "b": {"$ref": "#/properties/a"}}, "required": ["a"]},
    {"properties": {"a": {"$id": "https://example.com/a", "type": "string"}}, "additionalProperties": False},
    {
        "properties": {"kind": {"enum": ["x", "y"]}, "a": {"type": "integer"}},
        "if": {"properties": {"kind": {"const": "x"}}},
        "then": {"required": ["a"]},
    },
]
KEYS = st.sampled_from(["a", "b", "kind", "name", "count", "n"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-5, 5) | st.sampled_from(["", "a", "x", "b1"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=8,
)
ARGUMENTS = st.dictionaries(KEYS, JSON, max_size=3) | JSON  # mostly objects, as tool arguments are


@pytest.mark.parametrize("schema", SPLIT_SCHEMAS)
@settings(max_examples=300, deadline=None)
@given(instance=ARGUMENTS)
def test_the_verdict_is_jsonschemas(schema, instance):
    ours = ArgumentValidator(schema)
    plain = Draft202012Validator(schema, format_checker=FORMATS)
    try:
        ours.validate(instance)
        fits = True
    except SchemaError:
        fits = False
    assert fits == plain.is_valid(instance)


def test_a_format_jsonschema_leaves_unchecked_is_not_refused_by_the_compiled_path():
    # jsonschema-rs checks "uri" on its own; jsonschema (without rfc3987) does not, and its verdict wins.
    assert "uri" not in FORMATS.checkers
    validate({"link": "not a uri"}, {"properties": {"link": {"type": "string", "format": "uri"}}})


@pytest.mark.parametrize("format_", sorted(FORMATS.checkers))
def test_the_compiled_path_checks_formats_as_jsonschema_does(format_):
    schema = {"properties": {"v": {"format": format_}}}
    plain = Draft202012Validator(schema, format_checker=FORMATS)
    for value in ["", "x", "2026-02-30", "2026-12-04T10:00:60Z", "a@b", "::1", "10.0.0.256", "(", "urn:x"]:
        ours = ArgumentValidator(schema)
        try:
            ours.validate({"v": value})
            fits = True
        except SchemaError:
            fits = False
        assert fits == plain.is_valid({"v": value}), value

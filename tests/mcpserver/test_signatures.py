"""Input schemas and argument validation inferred from a tool function's signature, type hints,
defaults and docstring (``signatures``, ``typeschemas``, through the ``@tool`` decorator).

No ``from __future__ import annotations`` here: the tools below are defined inside the tests, and
their annotations name classes local to a test, which only evaluated annotations can reach.
"""

import dataclasses
import enum
import typing
from datetime import datetime
from typing import Annotated, Any, Literal, Optional

import pytest
import typing_extensions
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field

from mcpserver.registry import tool
from mcpserver.schemas import SchemaError


def schema_of(func) -> dict:
    return tool()(func).__mcp__.input_schema


def validate(func, arguments: dict) -> dict:
    return func.__mcp__.validator.validate(arguments)


def property_of(annotation, default=dataclasses.MISSING) -> dict:
    """The published schema of one parameter ``value`` with this annotation (and default)."""

    def probe(ctx, value):
        return ""

    probe.__annotations__ = {"value": annotation}
    if default is not dataclasses.MISSING:
        probe.__defaults__ = (default,)
    return schema_of(probe)["properties"]["value"]


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


class Tag(typing.TypedDict):
    name: str
    weight: typing.NotRequired[float]


class Label(typing_extensions.TypedDict):
    text: str


class Person(BaseModel):
    name: str
    age: int = Field(ge=0)


def test_the_context_is_skipped_and_a_function_without_arguments_publishes_the_spec_s_empty_object():
    def bare(ctx):
        """Nothing to give."""

    def annotated_context(context: Any):
        """The context may be annotated and named anything."""

    assert schema_of(bare) == {"type": "object", "additionalProperties": False}
    assert schema_of(annotated_context) == {"type": "object", "additionalProperties": False}


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (dict[str, int], {"type": "object", "additionalProperties": {"type": "integer"}}),
        (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
        (Colour, {"type": "string", "enum": ["red", "green"], "title": "Colour"}),
        (Optional[int], {"anyOf": [{"type": "integer"}, {"type": "null"}]}),  # noqa: UP045
        (int | None, {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
        (datetime, {"type": "string", "format": "date-time"}),
        (Annotated[int, Field(ge=1, le=10)], {"type": "integer", "minimum": 1, "maximum": 10}),
    ],
)
def test_each_supported_type_has_its_json_schema(annotation, expected):
    assert property_of(annotation) == expected


def test_structured_parameters_are_inlined_objects():
    point = property_of(Point)
    assert point["type"] == "object" and point["required"] == ["x"]
    assert point["properties"] == {"x": {"type": "integer"}, "y": {"type": "integer", "default": 0}}
    tag = property_of(Tag)  # typing.TypedDict, which pydantic refuses below Python 3.12
    assert tag["properties"] == {"name": {"type": "string"}, "weight": {"type": "number"}}
    assert tag["required"] == ["name"]
    assert property_of(Label)["required"] == ["text"]
    person = property_of(Person)
    assert person["properties"]["age"] == {"type": "integer", "minimum": 0}
    assert "$ref" not in str(property_of(list[Point])) and "$defs" not in property_of(list[Point])


def test_a_recursive_type_keeps_its_definitions():
    class Tree(BaseModel):
        label: str
        children: list["Tree"] = []

    Tree.model_rebuild()

    def walk(ctx, tree: Tree):
        return ""

    schema = schema_of(walk)
    assert "$defs" in schema and schema["properties"]["tree"] == {"$ref": "#/$defs/Tree"}
    Draft202012Validator.check_schema(schema)


def test_defaults_required_and_docstring_descriptions():
    def book(
        ctx,
        room: str,
        nights: int = 1,
        breakfast: bool = False,
        note: Annotated[str, Field(description="Explicit.")] = "",
    ):
        """Book a room.

        Args:
            room (str): Which room.
            nights: How many nights,
                at most thirty.
            note: Loses to the explicit description.

        Returns:
            A confirmation.
        """
        return ""

    definition = tool()(book).__mcp__
    schema = definition.input_schema
    assert schema["required"] == ["room"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["room"] == {"type": "string", "description": "Which room."}
    assert schema["properties"]["nights"] == {
        "type": "integer",
        "default": 1,
        "description": "How many nights, at most thirty.",
    }
    assert schema["properties"]["breakfast"] == {"type": "boolean", "default": False}
    assert schema["properties"]["note"]["description"] == "Explicit."
    assert definition.description == "Book a room.\n\nReturns:\n    A confirmation."
    Draft202012Validator.check_schema(schema)


def test_any_parameter_name_works():
    def odd(ctx, json: str, schema: int = 0, _private: bool = False, model_config: str = ""):
        return ""

    described = schema_of(odd)
    assert list(described["properties"]) == ["json", "schema", "_private", "model_config"]
    found = validate(odd, {"json": "x", "_private": True})
    assert found == {"json": "x", "schema": 0, "_private": True, "model_config": ""}


def test_validation_gives_python_values():
    @tool()
    def typed(
        ctx, colour: Colour, at: datetime, where: Point, tags: list[Tag], person: Person, ratio: float = 1.0
    ):
        return ""

    found = validate(
        typed,
        {
            "colour": "green",
            "at": "2026-01-02T03:04:05Z",
            "where": {"x": 1},
            "tags": [{"name": "a"}],
            "person": {"name": "Ann", "age": 3},
            "ratio": 2,
        },
    )
    assert found["colour"] is Colour.GREEN
    assert found["at"].year == 2026 and found["at"].tzinfo is not None
    assert found["where"] == Point(1, 0)
    assert found["tags"] == [{"name": "a"}]
    assert found["person"] == Person(name="Ann", age=3)
    assert found["ratio"] == 2.0 and isinstance(found["ratio"], float)


@pytest.mark.parametrize(
    ("arguments", "reasons"),
    [
        ({}, ["arguments.count: Field required"]),
        ({"count": "2"}, ["arguments.count: Input should be a valid integer"]),  # JSON is strict
        ({"count": 11}, ["arguments.count: Input should be less than or equal to 10"]),
        ({"count": 1, "mode": "loud"}, ["arguments.mode: Input should be 'quiet' or 'plain'"]),
        ({"count": 1, "where": {"x": "a"}}, ["arguments.where.x: Input should be a valid integer"]),
        ({"count": 1, "items": [1, "b"]}, ["arguments.items[1]: Input should be a valid integer"]),
        ({"count": 1, "extra": 1}, ["arguments.extra: Extra inputs are not permitted"]),
        (
            {"count": True, "mode": 3},
            [
                "arguments.count: Input should be a valid integer",
                "arguments.mode: Input should be 'quiet' or 'plain'",
            ],
        ),
    ],
)
def test_validation_failures_name_each_field_and_reason(arguments, reasons):
    @tool()
    def strict(
        ctx,
        count: Annotated[int, Field(ge=0, le=10)],
        mode: Literal["quiet", "plain"] = "quiet",
        where: Point | None = None,
        items: list[int] = (),
    ):
        return ""

    with pytest.raises(SchemaError) as raised:
        validate(strict, arguments)
    assert str(raised.value).split("; ") == reasons


def test_a_long_list_of_failures_is_cut():
    @tool()
    def many(ctx, values: list[int]):
        return ""

    with pytest.raises(SchemaError) as raised:
        validate(many, {"values": ["x"] * 50})
    assert str(raised.value).count("Input should be") == 10
    assert str(raised.value).endswith("and 40 more")


def test_keyword_arguments_take_the_rest():
    @tool()
    def loose(ctx, name: str, **rest):
        return ""

    assert loose.__mcp__.input_schema["additionalProperties"] is True
    assert validate(loose, {"name": "a", "b": 2}) == {"name": "a", "b": 2}


def test_a_field_as_default_and_untyped_parameters():
    @tool()
    def defaults(ctx, size: int = Field(5, ge=1), anything=None):
        return ""

    schema = defaults.__mcp__.input_schema
    assert schema["properties"]["size"] == {"type": "integer", "default": 5, "minimum": 1}
    assert schema["properties"]["anything"] == {"default": None}
    assert validate(defaults, {}) == {"size": 5, "anything": None}


def test_prompt_arguments_say_which_are_required():
    from mcpserver.registry import prompt

    @prompt()
    def ask(
        ctx,
        topic: str,
        size: int = Field(ge=1),
        depth: int = Field(2),
        *,
        tone: Annotated[str, Field("calm")],
    ):
        """Ask.

        Args:
            topic: The topic.
        """

    arguments = {argument.name: argument for argument in ask.__mcp__.arguments}
    assert [(name, a.required) for name, a in arguments.items()] == [
        ("topic", True),
        ("size", True),
        ("depth", False),
        ("tone", False),
    ]
    assert arguments["topic"].description == "The topic."


def test_signatures_no_call_could_satisfy_fail_at_decoration():
    def no_context():
        return ""

    def positional_only(ctx, a: int, /):
        return ""

    def unresolvable(ctx, a: "NoSuchType"):  # noqa: F821
        return ""

    for func in (no_context, positional_only, unresolvable):
        with pytest.raises(TypeError):
            tool()(func)


def test_a_hand_written_schema_keeps_the_json_schema_validator():
    @tool(input_schema={"type": "object", "properties": {"count": {"type": "integer"}}})
    def hand_written(ctx, count: str = ""):
        """Args:
        count: Not used: the schema is the one given.
        """

    definition = hand_written.__mcp__
    assert definition.input_schema == {"type": "object", "properties": {"count": {"type": "integer"}}}
    with pytest.raises(SchemaError, match="'2' is not of type 'integer'"):
        definition.validator.validate({"count": "2"})
    assert definition.validator.validate({"count": 2}) == {"count": 2}

"""Output schemas from return annotations, and results as structured content (``outputs``, ``@tool``).

No ``from __future__ import annotations``: the annotations below name classes local to the tests.
"""

import dataclasses
import json
import typing
from collections.abc import Generator
from typing import Any

import pytest
from pydantic import BaseModel

from mcpserver import results
from mcpserver.outputs import OutputError
from mcpserver.registry import tool


@dataclasses.dataclass
class Forecast:
    city: str
    celsius: float


class Totals(typing.TypedDict):
    count: int


class Account(BaseModel):
    name: str
    balance: int = 0


def returning(annotation, value=None, **options):
    def func(ctx):
        return value

    func.__annotations__ = {"return": annotation}
    return tool(**options)(func).__mcp__


@pytest.mark.parametrize(
    ("annotation", "value", "schema", "structured"),
    [
        (
            Forecast,
            Forecast("Oslo", -2.5),
            {
                "type": "object",
                "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
                "required": ["city", "celsius"],
            },
            {"city": "Oslo", "celsius": -2.5},
        ),
        (
            Totals,
            {"count": 3},
            {"type": "object", "properties": {"count": {"type": "integer"}}, "required": ["count"]},
            {"count": 3},
        ),
        (
            Account,
            Account(name="a"),
            {
                "type": "object",
                "properties": {"name": {"type": "string"}, "balance": {"type": "integer", "default": 0}},
                "required": ["name"],
            },
            {"name": "a", "balance": 0},
        ),
        (
            dict[str, int],
            {"a": 1},
            {"type": "object", "additionalProperties": {"type": "integer"}},
            {"a": 1},
        ),
    ],
)
def test_object_returns_are_the_structured_content(annotation, value, schema, structured):
    """The object's own schema (without the class name as a root title), and the value as JSON."""
    definition = returning(annotation, value)
    assert definition.describe()["outputSchema"] == schema
    result = results.tool_result(definition, value)
    assert result["structuredContent"] == structured
    assert result["content"] == [{"type": "text", "text": json.dumps(structured)}]


@pytest.mark.parametrize(
    ("annotation", "value", "inner"),
    [
        (int, 3, {"type": "integer"}),
        (float, 1.5, {"type": "number"}),
        (bool, True, {"type": "boolean"}),
        (list[str], ["a"], {"type": "array", "items": {"type": "string"}}),
        (int | None, None, {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
    ],
)
def test_other_returns_are_wrapped_as_result(annotation, value, inner):
    definition = returning(annotation, value)
    assert definition.output_schema == {
        "type": "object",
        "properties": {"result": inner},
        "required": ["result"],
    }
    assert results.tool_result(definition, value)["structuredContent"] == {"result": value}


@pytest.mark.parametrize("annotation", [str, None, Any, dict, list, list[dict], list[dict[str, Any]], bytes])
def test_text_and_content_returns_stay_unstructured(annotation):
    definition = returning(annotation)
    assert definition.output_schema is None and definition.output is None


def test_a_generator_tool_is_read_by_what_it_returns():
    def counted(ctx) -> Generator[Any, None, int]:
        yield from ()
        return 3

    assert tool()(counted).__mcp__.output_schema["properties"] == {"result": {"type": "integer"}}


def test_an_explicit_output_schema_wins_and_a_dict_is_its_structured_content():
    definition = returning(Forecast, output_schema={"type": "object"})
    assert definition.output_schema == {"type": "object"} and definition.output is None
    assert results.tool_result(definition, {"a": 1})["structuredContent"] == {"a": 1}


def test_a_value_that_does_not_fit_the_annotation_is_an_output_error():
    definition = returning(int)
    with pytest.raises(OutputError):
        results.tool_result(definition, "three")


def test_a_whole_result_passes_through():
    definition = returning(int)
    whole = {"content": [{"type": "text", "text": "done"}], "isError": True}
    assert results.tool_result(definition, whole) is whole

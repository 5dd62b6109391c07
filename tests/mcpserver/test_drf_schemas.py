"""drf-spectacular's schemas made plain JSON Schema, DRF's errors as reasons, cursors, declaration errors."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from rest_framework import serializers, viewsets

from mcpserver.drf import cursors
from mcpserver.drf.schemas import Inspector, Plain
from mcpserver.drf.serializers import reasons
from mcpserver.registry import tool
from mcpserver.schemas import SchemaError


def test_components_are_inlined_and_one_that_nests_itself_keeps_its_defs():
    components = {
        "Node": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "x-spec-enum-id": "abc"},
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                "tag": {"$ref": "#/components/schemas/Tag"},
            },
        },
        "Tag": {"type": "string", "nullable": True},
    }
    plain = Plain(components).schema({"$ref": "#/components/schemas/Node", "description": "The root."})
    assert plain["description"] == "The root."
    assert plain["properties"]["name"] == {"type": "string"}
    assert plain["properties"]["tag"] == {"type": ["string", "null"]}
    assert plain["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert plain["$defs"]["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    Draft202012Validator.check_schema(plain)
    Draft202012Validator(plain).validate(
        {"name": "a", "children": [{"name": "b", "children": []}], "tag": None}
    )


class Choices(serializers.Serializer):
    colour = serializers.ChoiceField(choices=["red", "blue"], allow_null=True)
    when = serializers.DateTimeField(read_only=True)
    secret = serializers.CharField(write_only=True)
    size = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)


def test_a_serializer_s_request_and_response_schemas():
    request = Inspector().serializer(Choices, "request")
    response = Inspector().serializer(Choices, "response")
    assert set(request["properties"]) == {"colour", "secret", "size"} and request["required"] == [
        "colour",
        "secret",
    ]
    assert request["properties"]["colour"]["enum"] == ["red", "blue", None]
    assert request["properties"]["colour"]["type"] == ["string", "null"]
    assert set(response["properties"]) == {"colour", "when", "size"}
    Draft202012Validator.check_schema(request)


def test_drf_errors_name_each_field_in_order():
    errors = {
        "title": ["This field is required."],
        "tags": [{}, {"name": ["Too long.", "Not allowed."]}],
        "scores": {2: ["A valid integer is required."]},
        "non_field_errors": ["The pair is taken."],
    }
    assert reasons(errors) == (
        "arguments.title: This field is required.; arguments.tags[1].name: Too long.; "
        "arguments.tags[1].name: Not allowed.; arguments.scores[2]: A valid integer is required.; "
        "arguments: The pair is taken."
    )
    assert reasons({f"f{i}": ["bad"] for i in range(12)}).endswith("; and 2 more")
    assert reasons(["Whole body refused."]) == "arguments: Whole body refused."


def test_a_cursor_carries_only_known_parameters():
    made = cursors.encode("http://h/notes/?page=2&search=a%20b&evil=1", {"page", "search"})
    assert cursors.decode(made, {"page", "search"}) == [("page", "2"), ("search", "a b")]
    assert cursors.encode("http://h/notes/?evil=1", {"page"}) is None
    assert cursors.encode(None, {"page"}) is None
    for bad in ("", "!!!", 7, None, "ZXZpbD0x", "x" * 3000):
        with pytest.raises(SchemaError, match="Invalid cursor"):
            cursors.decode(bad, {"page"})


def test_unusable_declarations_fail_at_import():
    with pytest.raises(TypeError, match="not a DRF serializer"):
        tool("plain_dict", input=dict)(lambda ctx, data: None)
    with pytest.raises(TypeError, match=r"def lonely\(ctx, data\)"):

        @tool(input=Choices)
        def lonely(ctx):
            """Takes no data."""

    with pytest.raises(TypeError, match="not both"):
        tool(input=Choices, input_schema={"type": "object"})


def test_a_field_named_like_a_parameter_fails_at_declaration():
    """The lookup is the title, and the body may change the title: one argument cannot be both."""
    from django.core.exceptions import ImproperlyConfigured

    from mcpserver.drf import expose_viewset
    from notes.models import Note

    class Titles(serializers.ModelSerializer):
        class Meta:
            model = Note
            fields = ["title", "body"]

    class ByTitle(viewsets.ModelViewSet):
        serializer_class = Titles
        queryset = Note.objects.all()
        lookup_field = "title"

    assert expose_viewset(ByTitle, "titles", actions=["retrieve"])["titles_retrieve"].input_schema[
        "required"
    ] == ["title"]
    with pytest.raises(ImproperlyConfigured, match="title is both a field and a parameter"):
        expose_viewset(ByTitle, "titles", actions=["partial_update"])

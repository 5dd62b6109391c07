"""DRF serializers and ViewSets as tools (``drf_capabilities``) through ``/mcp``, in both protocol eras:
published schemas, validation by the serializer, the ViewSet's own permissions and querysets for the MCP
caller, pagination as cursors, and no server error for any input."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from mcpserver.registry import Registry

from .conftest import McpClient
from .test_authoring import ERAS, call, records, send

pytestmark = pytest.mark.django_db

MODULE = "tests.mcpserver.drf_capabilities"


@pytest.fixture
def served():
    """Serve the test module's capabilities for one test."""
    app = apps.get_app_config("mcpserver")
    original = app.registry
    registry = Registry()
    registry.register_module(MODULE)
    app.registry = registry
    yield registry
    app.registry = original


@pytest.fixture
def person(issue, mcp):
    """Factory: ``(McpClient, User)`` for a new user with the given roles and model permissions."""
    from authserver.models import User

    def make(name: str, roles=("user",), perms=()):
        client = McpClient(mcp.client, issue(username=name, roles=roles))
        user = User.objects.get(username=name)
        codenames = [perm.split(".")[1] for perm in perms]
        user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
        return client, user

    return make


@pytest.fixture
def make_note(db):
    from notes.models import Note

    return lambda owner, title, body="": Note.objects.create(owner=owner, title=title, body=body)


def listed(mcp, era="modern") -> dict[str, dict]:
    tools = send(mcp, era, "tools/list", {})["result"]["tools"]
    return {item["name"]: item for item in tools}


def text(result) -> str:
    return result["content"][0]["text"]


def conforms(mcp, name: str, result) -> dict:
    """The structured content, checked against the tool's published output schema (as SDK clients do)."""
    schema = listed(mcp)[name]["outputSchema"]
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(
        result["structuredContent"]
    )
    return result["structuredContent"]


def error(result) -> str:
    """The text of a tool error (and nothing else in its content)."""
    assert result["isError"] is True and len(result["content"]) == 1, result
    return text(result)


# --- schemas ---


def test_tools_list_publishes_plain_json_schemas_from_the_serializers(mcp, served):
    tools = listed(mcp)
    assert set(tools) == {
        "add_note",
        "crashing_validation",
        "alice_notes",
        "find_notes",
        "notes_list",
        "notes_retrieve",
        "notes_create",
        "notes_partial_update",
        "notes_destroy",
        "notes_mine",
        "notes_crash",
        "notes_titles",
        "feed_list",
        "feed_retrieve",
    }
    added = tools["add_note"]
    assert added["description"] == "Add a note of yours."
    assert added["inputSchema"] == {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 200, "description": "A short title."},
            "body": {"type": "string", "default": ""},
            "tags": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 20}},
                    "required": ["name"],
                },
            },
        },
        "required": ["title"],
        "additionalProperties": False,
    }
    output = added["outputSchema"]
    assert "reason" not in output["properties"]  # write-only
    assert output["properties"]["key"] == {
        "type": "string",
        "format": "uuid",
        "readOnly": True,
        "description": "The note's public, stable identifier.",
    }
    assert tools["find_notes"]["outputSchema"]["properties"]["items"]["items"] == output
    created = tools["notes_create"]["inputSchema"]
    assert set(created["properties"]) == {"title", "body", "reason"}  # no read-only field
    assert created["required"] == ["title"] and created["additionalProperties"] is False
    assert tools["notes_create"]["outputSchema"] == output
    assert "$ref" not in str(tools) and "components" not in str(tools)


def test_viewset_tools_take_the_lookup_filters_and_a_cursor(mcp, served):
    tools = listed(mcp)
    page = tools["notes_list"]
    assert page["description"] == "List notes."
    assert set(page["inputSchema"]["properties"]) == {"search", "ordering", "cursor"}
    assert page["inputSchema"]["properties"]["search"] == {"type": "string", "description": "A search term."}
    assert "required" not in page["inputSchema"]
    assert page["outputSchema"]["required"] == ["items"]
    assert set(page["outputSchema"]["properties"]) == {"items", "nextCursor"}
    assert page["annotations"] == {"readOnlyHint": True, "openWorldHint": False}
    one = tools["notes_retrieve"]
    assert one["description"] == "Get a note by its key."
    assert one["inputSchema"]["required"] == ["key"]
    assert one["inputSchema"]["properties"]["key"]["format"] == "uuid"
    patch = tools["notes_partial_update"]["inputSchema"]
    assert patch["required"] == ["key"] and set(patch["properties"]) == {"key", "title", "body", "reason"}
    assert tools["notes_destroy"]["annotations"]["destructiveHint"] is True
    assert "outputSchema" not in tools["notes_destroy"]
    assert tools["notes_mine"]["description"] == "The caller's own notes, every one of them."
    # A list view to drf-spectacular (its serializer is many=True): the filters are its parameters too.
    assert set(tools["notes_mine"]["inputSchema"]["properties"]) == {"search", "ordering"}
    assert tools["notes_mine"]["outputSchema"]["properties"]["items"]["type"] == "array"
    assert set(tools["feed_list"]["inputSchema"]["properties"]) == {"cursor"}


# --- @tool(input=..., output=...) ---


@pytest.mark.parametrize("era", ERAS)
def test_a_serializer_tool_gets_validated_data_and_returns_the_serializer_s_data(served, person, era):
    alice, user = person("alice")
    result = call(alice, era, "add_note", {"title": "Groceries", "tags": [{"name": "home"}]})
    assert "isError" not in result
    made = conforms(alice, "add_note", result)
    assert made["title"] == "Groceries" and made["body"] == "" and made["owner"] == "alice"
    assert user.notes.get().title == "Groceries"  # the owner came from CurrentUserDefault: the caller
    found = conforms(alice, "find_notes", call(alice, era, "find_notes", {"text": "groceries"}))
    assert [note["key"] for note in found["items"]] == [made["key"]]


@pytest.mark.parametrize("era", ERAS)
def test_serializer_errors_are_a_tool_error_naming_each_field(served, person, era):
    alice, user = person("alice")
    result = call(alice, era, "add_note", {"title": "", "tags": [{"name": "ok"}, {"name": "x" * 21}]})
    assert result["isError"] is True
    assert text(result) == (
        "Invalid arguments: arguments.title: This field may not be blank.; "
        "arguments.tags[1].name: Ensure this field has no more than 20 characters."
    )
    assert text(call(alice, era, "add_note", {"title": "forbidden"})) == (
        "Invalid arguments: arguments.title: That title is not allowed."
    )
    assert text(call(alice, era, "add_note", {"title": "x", "colour": "red"})) == (
        "Invalid arguments: arguments.colour: Unknown field."
    )
    assert text(call(alice, era, "find_notes", {"text": "a", "limit": 0})) == (
        "Invalid arguments: arguments.limit: Ensure this value is greater than or equal to 1."
    )
    assert not user.notes.exists()
    assert records("add_note")[0][0] == "invalid"


def test_fields_that_depend_on_the_request_are_built_for_each_call(served, person, make_note):
    alice, user = person("alice")
    bob, _ = person("bob")
    make_note(user, "Plan", "secret")
    for _ in range(2):  # the same thread, alternating callers
        assert call(alice, "modern", "alice_notes", {})["structuredContent"]["items"][0]["body"] == "secret"
        assert "body" not in call(bob, "modern", "alice_notes", {})["structuredContent"]["items"][0]


def test_only_serializers_with_static_fields_are_reused():
    from mcpserver.drf.instances import static
    from tests.mcpserver import drf_capabilities as made

    assert static(made.NewNoteSerializer()) and static(made.NoteSerializer(many=True))
    assert not static(made.PrivateBodySerializer())

    class Holder(made.SearchSerializer):
        notes = made.PrivateBodySerializer(many=True)

    assert not static(Holder())


def test_a_static_serializer_is_one_instance_per_thread_that_keeps_no_caller():
    import threading

    from mcpserver.drf.instances import Instances
    from tests.mcpserver.drf_capabilities import SearchSerializer

    instances = Instances(SearchSerializer)
    with instances("a") as first:
        assert first.context["ctx"] == "a"
        with instances("b") as inner:  # used again before the first call ends: another one
            assert inner is not first and inner.context["ctx"] == "b"
    with instances("c") as again:
        assert again is first
    assert dict(first.context) == {} and "request" not in first.context
    elsewhere = []

    def other_thread():
        with instances("d") as found:
            elsewhere.append(found)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert elsewhere[0] is not first


# --- ViewSets ---


@pytest.mark.parametrize("era", ERAS)
def test_viewset_actions_run_for_real_with_the_caller_as_request_user(served, person, era):
    alice, user = person("alice", perms=["notes.add_note", "notes.change_note", "notes.delete_note"])
    created = call(alice, era, "notes_create", {"title": "Plan", "body": "first", "reason": "new"})
    note = conforms(alice, "notes_create", created)
    assert note["owner"] == "alice" and note["title"] == "Plan"
    key = note["key"]
    assert call(alice, era, "notes_retrieve", {"key": key})["structuredContent"] == note
    changed = call(alice, era, "notes_partial_update", {"key": key, "body": "second"})["structuredContent"]
    assert changed["body"] == "second" and changed["title"] == "Plan"
    assert conforms(alice, "notes_mine", call(alice, era, "notes_mine", {}))["items"] == [changed]
    deleted = call(alice, era, "notes_destroy", {"key": key})
    assert "isError" not in deleted and deleted["content"] == [
        {"type": "text", "text": f"Done: notes/{key}."}
    ]
    assert not user.notes.exists()
    assert error(call(alice, era, "notes_retrieve", {"key": key})) == f"Not found: notes/{key}"


@pytest.mark.parametrize("era", ERAS)
def test_a_caller_lacking_a_model_permission_is_refused(served, person, era):
    bob, user = person("bob")  # no notes.add_note
    refused = call(bob, era, "notes_create", {"title": "Plan"})
    assert error(refused) == "Forbidden: notes_create"
    assert not user.notes.exists()
    assert records("notes_create") == [("denied", "You do not have permission to perform this action.")]


@pytest.mark.parametrize("era", ERAS)
def test_an_object_level_refusal_is_answered_as_not_found(served, person, make_note, era):
    """An admin reads every note (the queryset) but changes only their own (has_object_permission)."""
    _, alice = person("alice")
    root, _ = person("root", roles=("admin",), perms=["notes.change_note"])
    note = make_note(alice, "Alice's")
    key = str(note.key)
    assert call(root, era, "notes_retrieve", {"key": key})["structuredContent"]["title"] == "Alice's"
    refused = call(root, era, "notes_partial_update", {"key": key, "title": "Mine now"})
    assert error(refused) == f"Not found: notes/{key}"
    note.refresh_from_db()
    assert note.title == "Alice's"
    assert records("notes_partial_update") == [
        ("denied", "You do not have permission to perform this action.")
    ]


def test_another_user_s_note_is_not_found(served, person, make_note):
    alice, _ = person("alice")
    _, bob = person("bob")
    key = str(make_note(bob, "Bob's").key)
    assert error(call(alice, "modern", "notes_retrieve", {"key": key})) == f"Not found: notes/{key}"


def test_a_client_s_own_token_is_an_anonymous_request(served, wsgi_client, sign, application):
    """No user: DRF's IsAuthenticated refuses; the serializer tool's own check speaks for itself."""
    service = McpClient(wsgi_client, sign({"sub": application.client_id}, remove=["username"]))
    assert error(call(service, "modern", "notes_list", {})) == "Forbidden: notes_list"
    assert error(call(service, "modern", "add_note", {"title": "x"})) == "Only a user can add notes."


@pytest.mark.parametrize("era", ERAS)
def test_page_number_pagination_is_a_cursor(served, person, make_note, era):
    alice, user = person("alice")
    for title in ("a1", "a2", "a3", "a4", "a5", "b1"):
        make_note(user, title)
    seen, cursor, pages = [], None, 0
    while True:
        arguments = {"search": "a"} if cursor is None else {"search": "a", "cursor": cursor}
        page = conforms(alice, "notes_list", call(alice, era, "notes_list", arguments))
        seen += [note["title"] for note in page["items"]]
        pages += 1
        cursor = page.get("nextCursor")
        if cursor is None:
            break
    assert seen == ["a1", "a2", "a3", "a4", "a5"] and pages == 3
    # The cursor carries the filters: sent alone, it continues the same listing.
    first = call(alice, era, "notes_list", {"search": "a"})["structuredContent"]
    alone = call(alice, era, "notes_list", {"cursor": first["nextCursor"]})["structuredContent"]
    assert [note["title"] for note in alone["items"]] == ["a3", "a4"]
    reordered = call(alice, era, "notes_list", {"ordering": "-title"})["structuredContent"]
    assert [note["title"] for note in reordered["items"]] == ["b1", "a5"]


def test_cursor_pagination_is_a_cursor(served, person, make_note):
    alice, user = person("alice")
    for title in ("one", "two", "three"):
        make_note(user, title)
    first = call(alice, "modern", "feed_list", {})["structuredContent"]
    second = call(alice, "modern", "feed_list", {"cursor": first["nextCursor"]})["structuredContent"]
    assert [n["title"] for n in first["items"]] == ["three", "two"]
    assert [n["title"] for n in second["items"]] == ["one"] and "nextCursor" not in second


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("notes_retrieve", {}, "Invalid arguments: arguments.key: A string or an integer is required."),
        (
            "notes_retrieve",
            {"key": {"a": 1}},
            "Invalid arguments: arguments.key: A string or an integer is required.",
        ),
        ("notes_retrieve", {"key": "not-a-uuid"}, "Not found: notes/not-a-uuid"),
        ("notes_retrieve", {"key": "../../admin"}, "Not found: notes/../../admin"),
        ("notes_list", {"cursor": "%%%"}, "Invalid arguments: arguments.cursor: Invalid cursor."),
        (
            "notes_list",
            {"cursor": "cGFnZT05OQ"},
            "Invalid arguments: arguments.cursor: Invalid cursor.",
        ),  # page=99
        (
            "notes_list",
            {"cursor": "ZXZpbD0x"},
            "Invalid arguments: arguments.cursor: Invalid cursor.",
        ),  # evil=1
        (
            "notes_list",
            {"search": ["a"]},
            "Invalid arguments: arguments.search: A string, a number or a boolean is required.",
        ),
        ("notes_list", {"page": 2}, "Invalid arguments: arguments.page: Unknown field."),
        ("notes_create", {"title": None}, "Invalid arguments: arguments.title: This field may not be null."),
        (
            "notes_create",
            {"title": "x" * 201},
            "Invalid arguments: arguments.title: Ensure this field has no more than 200 characters.",
        ),
        ("notes_crash", {"key": "x"}, "The tool 'notes_crash' failed."),
        ("notes_titles", {}, "The tool 'notes_titles' failed."),  # a list against an object schema
    ],
)
def test_bad_input_gets_a_tool_error_never_a_server_error(served, person, name, arguments, message):
    alice, _ = person("alice", perms=["notes.add_note"])
    result = call(alice, "modern", name, arguments)
    assert error(result) == message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
names = st.sampled_from(
    ["key", "title", "body", "search", "ordering", "cursor", "tags", "text", "limit", "x"]
)
tool_names = st.sampled_from(
    [
        "add_note",
        "find_notes",
        "notes_list",
        "notes_retrieve",
        "notes_create",
        "notes_partial_update",
        "notes_destroy",
        "feed_list",
    ]
)


def test_any_arguments_get_a_result(served, person):
    caller, _ = person("fuzz", perms=["notes.add_note", "notes.change_note"])

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(name=tool_names, arguments=st.dictionaries(names, json_values, max_size=4))
    def check(name, arguments):
        response = caller.modern("tools/call", {"name": name, "arguments": arguments})
        assert response.status_code == 200, response.content
        assert "result" in response.json()

    check()


# --- registration ---


def test_a_viewset_s_tools_are_registered_where_they_are_declared_only():
    registry = Registry()
    registry.register_module("tests.mcpserver.drf_reexport")
    assert len(registry) == 0
    registry.register_module(MODULE)
    assert (
        registry.get("tool", "notes_list") is not None and registry.get("tool", "feed_retrieve") is not None
    )


def test_scopes_and_roles_apply_to_every_action_or_per_action():
    from mcpserver.drf import expose_viewset
    from tests.mcpserver.drf_capabilities import FeedViewSet

    tools = expose_viewset(FeedViewSet, "f", scopes={"list": ["notes:read"]}, roles=["admin"])
    assert tools.__module__ == __name__
    assert tools["f_list"].scopes == ("notes:read",) and tools["f_retrieve"].scopes == ()
    assert tools["f_list"].roles == tools["f_retrieve"].roles == ("admin",)
    with pytest.raises(Exception, match="has no 'destroy' action"):
        expose_viewset(FeedViewSet, "f", actions=["destroy"])


@pytest.mark.parametrize("era", ERAS)
def test_a_crash_in_the_serializers_own_validation_is_a_tool_failure_not_a_server_error(served, mcp, era):
    result = call(mcp, era, "crashing_validation", {"text": "x"})
    assert result["isError"] is True
    assert result["content"] == [{"type": "text", "text": "The tool 'crashing_validation' failed."}]
    assert records("crashing_validation") == [("error", "")]

"""The example app through /mcp: found by discovery, typed schemas, who sees and changes which notes."""

from __future__ import annotations

import uuid

import pytest

from tests.mcpserver.conftest import McpClient, mcp_settings  # noqa: F401  (the MCP tests' settings, autouse)

pytestmark = pytest.mark.django_db

SCOPES = ["mcp:read", "mcp:tools", "mcp:prompts"]


@pytest.fixture
def tokens(make_scope, make_user, make_client):
    """Tokens of alice and bob (role user), root (role admin), guest (role guest: read only) and the
    client itself (client credentials)."""
    from authserver import keys
    from authserver.models import Role
    from authserver.tokens import issue_for_user

    keys.ensure_key()
    scopes = [make_scope(name) for name in SCOPES]
    for name, granted in {"user": scopes, "admin": scopes, "guest": scopes[:2]}.items():
        Role.objects.create(name=name).scopes.set(granted)
    application = make_client("notes-tests", grant="password", scopes=SCOPES, public=True).application
    made = {}
    for username, role in {"alice": "user", "bob": "user", "root": "admin", "guest": "guest"}.items():
        made[username] = (make_user(username, roles=[role]), None)
        made[username] = (made[username][0], issue_for_user(made[username][0], application, SCOPES, 300))
    return made


@pytest.fixture
def as_(wsgi_client, tokens):
    return lambda username: McpClient(wsgi_client, tokens[username][1])


@pytest.fixture
def notes(tokens, make_note):
    alice, bob = tokens["alice"][0], tokens["bob"][0]
    return {
        "groceries": make_note(alice, "Grocery list", "oat milk and lemons"),
        "offsite": make_note(alice, "Team offsite", "a hike and a workshop"),
        "bike": make_note(bob, "Bike maintenance", "new brake pads"),
    }


def call(client, name, arguments):
    return client.modern("tools/call", {"name": name, "arguments": arguments}).json()["result"]


def test_the_app_is_discovered_with_typed_schemas(as_):
    listed = {tool["name"]: tool for tool in as_("alice").modern("tools/list").json()["result"]["tools"]}
    assert {"search_notes", "create_note", "edit_note"} <= set(listed)
    search = listed["search_notes"]
    assert search["inputSchema"]["properties"]["limit"] == {
        "type": "integer", "minimum": 1, "maximum": 50, "default": 10,
        "description": "At most this many notes.",
    }  # fmt: skip
    assert search["outputSchema"]["properties"]["notes"]["type"] == "array"
    assert listed["create_note"]["inputSchema"]["required"] == ["title"]


def test_a_user_finds_only_their_own_notes(as_, notes):
    found = call(as_("alice"), "search_notes", {"text": ""})["structuredContent"]
    assert sorted(note["title"] for note in found["notes"]) == ["Grocery list", "Team offsite"]
    assert found["more"] is False
    assert call(as_("bob"), "search_notes", {"text": "lemons"})["structuredContent"]["notes"] == []


def test_the_admin_role_finds_every_note(as_, notes):
    found = call(as_("root"), "search_notes", {"text": "", "limit": 2})["structuredContent"]
    assert len(found["notes"]) == 2 and found["more"] is True


def test_bad_arguments_are_a_tool_error_with_the_reason(as_):
    result = call(as_("alice"), "search_notes", {"limit": 500})
    assert result["isError"] is True
    assert "limit" in result["content"][0]["text"]


def test_a_user_creates_and_edits_a_note_of_their_own(as_):
    from notes.models import Note

    created = call(as_("alice"), "create_note", {"title": "Call the plumber"})["structuredContent"]
    note = Note.objects.get(key=created["key"])
    assert note.owner.username == "alice" and created["owner"] == "alice"
    edited = call(as_("alice"), "edit_note", {"key": created["key"], "body": "Tuesday, 9am"})
    assert edited["structuredContent"]["title"] == "Call the plumber"
    note.refresh_from_db()
    assert note.body == "Tuesday, 9am"


def test_nobody_edits_another_users_note_not_even_an_admin(as_, notes):
    from notes.models import Note

    for who in ("bob", "root"):
        result = call(as_(who), "edit_note", {"key": str(notes["groceries"].key), "title": "mine now"})
        unknown = call(as_(who), "edit_note", {"key": str(uuid.uuid4()), "title": "x"})
        assert result["isError"] is True
        assert result["content"] == [{"type": "text", "text": f"Not found: note {notes['groceries'].key}"}]
        assert unknown["isError"] is True  # the same answer whether the note exists or not
    assert Note.objects.get(pk=notes["groceries"].pk).title == "Grocery list"


def test_a_read_only_role_cannot_write(as_):
    from notes.models import Note

    listed = {tool["name"] for tool in as_("guest").modern("tools/list").json()["result"]["tools"]}
    assert "search_notes" in listed and "create_note" not in listed
    response = as_("guest").modern("tools/call", {"name": "create_note", "arguments": {"title": "x"}})
    # A tool the caller's roles do not allow is not theirs to know about: unknown, as if it did not exist.
    assert response.json()["error"] == {"code": -32602, "message": "Unknown tool: create_note"}
    assert not Note.objects.exists()


def test_a_note_is_a_resource_to_its_owner_only(as_, notes):
    uri = f"notes://{notes['bike'].key}"
    read = as_("bob").modern("resources/read", {"uri": uri}).json()
    assert read["result"]["contents"][0]["text"] == "# Bike maintenance\n\nnew brake pads\n"
    for who in ("alice",):
        refused = as_(who).modern("resources/read", {"uri": uri}).json()
        assert "result" not in refused and refused["error"]["code"] in (-32002, -32602)
    garbled = as_("bob").modern("resources/read", {"uri": "notes://not-a-key"}).json()
    assert "result" not in garbled  # an error, not a 500


def test_note_keys_complete_from_the_callers_notes(as_, notes):
    params = {
        "ref": {"type": "ref/resource", "uri": "notes://{key}"},
        "argument": {"name": "key", "value": ""},
    }
    values = as_("bob").modern("completion/complete", params).json()["result"]["completion"]["values"]
    assert values == [str(notes["bike"].key)]


def test_the_summary_prompt_quotes_the_callers_notes(as_, notes):
    params = {"name": "summarise_notes", "arguments": {"text": "hike"}}
    messages = as_("alice").modern("prompts/get", params).json()["result"]["messages"]
    text = messages[0]["content"]["text"]
    assert "Team offsite" in text and "Grocery list" not in text and "Bike" not in text

"""Capabilities in the type-hint style through ``/mcp`` (``authoring_capabilities``): validation errors
as tool results, Python values, structured content, prompts and templates from signatures,
completions, the caller as Django objects and object-level checks, in both protocol eras."""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpserver import audit
from mcpserver.registry import Registry

from .conftest import McpClient

pytestmark = pytest.mark.django_db

ERAS = ["modern", "legacy"]


@pytest.fixture
def authored():
    """Serve the test module's capabilities (and the built-ins) for one test."""
    app = apps.get_app_config("mcpserver")
    original = app.registry
    registry = Registry()
    for module in ("mcpserver.tools", "tests.mcpserver.authoring_capabilities"):
        registry.register_module(module)
    app.registry = registry
    yield registry
    app.registry = original


def send(mcp, era, method, params):
    response = mcp.modern(method, params) if era == "modern" else mcp.legacy(method, params)
    assert response.status_code in (200, 400), response.content
    return response.json()


def call(mcp, era, name, arguments):
    return send(mcp, era, "tools/call", {"name": name, "arguments": arguments})["result"]


def records(name: str) -> list[tuple[str, str]]:
    from mcpserver.models import AuditRecord

    audit.flush()
    return [
        (record.outcome, record.detail) for record in AuditRecord.objects.filter(name=name).order_by("id")
    ]


@pytest.mark.parametrize("era", ERAS)
def test_a_typed_tool_gets_python_values_and_returns_structured_content(mcp, authored, era):
    result = call(
        mcp,
        era,
        "plan",
        {"title": "Trip", "priority": "high", "where": {"x": 2}, "tags": [{"name": "fun"}], "limit": 4},
    )
    assert "isError" not in result
    assert result["structuredContent"] == {
        "title": "Trip",
        "priority": "<Priority.HIGH: 'high'>",
        "where": "Point(x=2, y=0)",
        "tags": "[{'name': 'fun'}]",
        "mode": "draft",
        "limit": "4",
    }
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]


@pytest.mark.parametrize("era", ERAS)
def test_invalid_arguments_are_a_tool_error_naming_each_field(mcp, authored, era):
    """SEP-1303: the model reads why and retries; nothing ran."""
    result = call(mcp, era, "plan", {"priority": "urgent", "limit": 11, "where": {"x": "a"}, "colour": 1})
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert text.startswith("Invalid arguments: ")
    for reason in (
        "arguments.title: Field required",
        "arguments.priority: Input should be 'low' or 'high'",
        "arguments.where.x: Input should be a valid integer",
        "arguments.limit: Input should be less than or equal to 10",
        "arguments.colour: Extra inputs are not permitted",
    ):
        assert reason in text
    assert records("plan")[0][0] == "invalid"


def test_tools_list_publishes_the_inferred_schemas(mcp, authored):
    tools = {t["name"]: t for t in mcp.modern("tools/list").json()["result"]["tools"]}
    plan = tools["plan"]
    assert plan["description"] == "Plan something and say what was understood."
    assert plan["inputSchema"]["required"] == ["title"]
    assert plan["inputSchema"]["properties"]["title"] == {"type": "string", "description": "What to plan."}
    assert plan["outputSchema"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert tools["count_words"]["outputSchema"]["properties"] == {"result": {"type": "integer"}}
    assert tools["echo"]["inputSchema"]["properties"]["message"]["maxLength"] == 10_000  # hand-written


def test_a_primitive_result_is_wrapped_and_a_wrong_one_is_a_tool_error(mcp, authored):
    assert call(mcp, "modern", "count_words", {"text": "one two three"})["structuredContent"] == {"result": 3}
    broken = call(mcp, "modern", "broken_output", {})
    assert broken["isError"] is True and "not a number" not in broken["content"][0]["text"]


@pytest.mark.parametrize("era", ERAS)
def test_a_prompt_takes_its_arguments_from_its_signature(mcp, authored, era):
    listed = {p["name"]: p for p in send(mcp, era, "prompts/list", {})["result"]["prompts"]}
    assert listed["brief"]["arguments"] == [
        {"name": "topic", "description": "What the brief is about.", "required": True},
        {"name": "tone", "description": "How it sounds.", "required": False},
        {"name": "words", "description": "About how long it is.", "required": False},
    ]
    got = send(mcp, era, "prompts/get", {"name": "brief", "arguments": {"topic": "tea", "words": "20"}})
    assert got["result"]["messages"][0]["content"]["text"] == "Write 20 casual words about tea."
    bad = send(mcp, era, "prompts/get", {"name": "brief", "arguments": {"topic": "tea", "tone": "shouty"}})
    assert bad["error"]["code"] == -32602
    assert "arguments.tone: Input should be 'formal' or 'casual'" in bad["error"]["message"]
    missing = send(mcp, era, "prompts/get", {"name": "brief", "arguments": {}})
    assert missing["error"]["code"] == -32602 and "topic" in missing["error"]["message"]


def owner_of_notes(issue, mcp):
    return McpClient(mcp.client, issue(username="alice"))


@pytest.mark.parametrize("era", ERAS)
def test_a_template_converts_its_variables(mcp, authored, issue, era):
    alice = owner_of_notes(issue, mcp)
    listed = send(alice, era, "resources/templates/list", {})["result"]["resourceTemplates"]
    assert {"uriTemplate": "notes://{id}", "name": "note"}.items() <= listed[-1].items()
    read = send(alice, era, "resources/read", {"uri": "notes://1"})["result"]["contents"][0]
    assert json.loads(read["text"]) == {"id": 1, "title": "Groceries", "owner": "alice"}
    bad = send(alice, era, "resources/read", {"uri": "notes://one"})
    assert bad["error"]["code"] == -32602
    assert bad["error"]["message"].startswith(
        "Invalid resource URI notes://one: uri.id: Input should be a valid integer"
    )


def test_an_object_the_caller_may_not_see_is_answered_as_missing_and_audited_as_denied(mcp, authored, issue):
    alice = owner_of_notes(issue, mcp)
    others = call(alice, "modern", "read_note", {"id": 2})
    missing = call(alice, "modern", "read_note", {"id": 3})
    assert others["isError"] is True and missing["isError"] is True
    assert others["content"] == [{"type": "text", "text": "Not found: note 2"}]
    assert missing["content"] == [{"type": "text", "text": "Not found: note 3"}]
    assert call(alice, "modern", "read_note", {"id": 1})["structuredContent"]["title"] == "Groceries"
    assert records("read_note") == [("denied", "note 2 is bob's"), ("error", ""), ("ok", "")]
    hidden = send(alice, "modern", "resources/read", {"uri": "notes://2"})
    absent = send(alice, "modern", "resources/read", {"uri": "notes://3"})
    assert hidden["error"]["message"] == "Unknown resource: notes://2"
    assert absent["error"]["message"] == "Unknown resource: notes://3"
    assert records("notes://2") == [("denied", "note 2 is bob's")]
    prompted = send(alice, "modern", "prompts/get", {"name": "discuss_note", "arguments": {"id": "2"}})
    assert prompted["error"] == {"code": -32602, "message": "Not found: note 2"}
    assert records("discuss_note") == [("denied", "note 2 is bob's")]


def complete(mcp, ref, name, value, context=None, era="modern"):
    params = {"ref": ref, "argument": {"name": name, "value": value}}
    if context is not None:
        params["context"] = {"arguments": context}
    return send(mcp, era, "completion/complete", params)


@pytest.mark.parametrize("era", ERAS)
def test_completions_for_templates_and_prompt_arguments(mcp, authored, issue, era):
    alice = owner_of_notes(issue, mcp)
    note = {"type": "ref/resource", "uri": "notes://{id}"}
    brief = {"type": "ref/prompt", "name": "brief"}
    assert complete(alice, note, "id", "1", era=era)["result"]["completion"] == {
        "values": ["1", "12"],
        "total": 2,
        "hasMore": False,
    }
    assert complete(alice, brief, "tone", "f", era=era)["result"]["completion"]["values"] == ["formal"]
    assert complete(alice, brief, "topic", "t", era=era)["result"]["completion"]["values"] == [
        "tea",
        "travel",
        "toys",
    ]
    formal = complete(alice, brief, "topic", "t", {"tone": "formal"}, era=era)
    assert formal["result"]["completion"]["values"] == ["taxes", "tea", "tennis"]
    assert complete(alice, brief, "words", "", era=era)["result"]["completion"]["values"] == []


def test_the_built_in_template_completes_the_tools_the_caller_may_see(mcp, issue):
    ref = {"type": "ref/resource", "uri": "mcp://tools/{name}"}
    assert complete(mcp, ref, "name", "ec")["result"]["completion"]["values"] == ["echo"]


def test_completion_is_refused_for_what_the_caller_may_not_use(mcp, authored, issue):
    reader = McpClient(mcp.client, issue(scopes=["mcp:read"]))
    refused = complete(reader, {"type": "ref/prompt", "name": "brief"}, "tone", "")
    assert refused["error"]["code"] == -32602 and refused["error"]["message"] == "Unknown completion target"


def test_at_most_one_hundred_values_with_the_total(mcp):
    from mcpserver.registry import prompt

    @prompt(complete={"n": lambda ctx, value: [str(i) for i in range(250)]})
    def numbers(ctx, n: str):
        return n

    app = apps.get_app_config("mcpserver")
    original, app.registry = app.registry, Registry([numbers.__mcp__])
    try:
        found = complete(mcp, {"type": "ref/prompt", "name": "numbers"}, "n", "")["result"]["completion"]
    finally:
        app.registry = original
    assert len(found["values"]) == 100 and found["total"] == 250 and found["hasMore"] is True


def test_the_completions_capability_is_offered_only_when_something_completes(mcp):
    from mcpserver.registry import prompt

    @prompt()
    def plain(ctx, topic: str):
        return topic

    assert "completions" in mcp.initialize().json()["result"]["capabilities"]  # the built-in template
    app = apps.get_app_config("mcpserver")
    original, app.registry = app.registry, Registry([plain.__mcp__])
    try:
        legacy = mcp.initialize().json()["result"]["capabilities"]
        modern = mcp.modern("server/discover").json()["result"]["capabilities"]
    finally:
        app.registry = original
    assert "completions" not in legacy and "completions" not in modern


@pytest.mark.parametrize("era", ERAS)
def test_a_tool_sees_the_user_and_the_client_as_django_objects(mcp, authored, issue, application, era):
    carol = McpClient(mcp.client, issue(username="carol", roles=["user"]))
    result = call(carol, era, "me", {})["structuredContent"]
    assert result["user"] == "carol" and result["client"] == application.client_id
    assert result["caller"] == "User" and result["roles"] == "user"
    assert result["scopes"] == "mcp:prompts mcp:read mcp:tools"
    assert result["request_id"] == str(carol.counter)


def test_a_client_s_own_token_has_no_user(client, roles, make_client, authored):
    import base64

    from authserver import keys

    keys.ensure_key()
    made = make_client(
        "svc", grant="client-credentials", scopes=["mcp:read", "mcp:tools"], client_secret="s3cret"
    )
    basic = base64.b64encode(f"{made.client_id}:s3cret".encode()).decode()
    issued = client.post(
        "/oauth/token/",
        "grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    service = McpClient(client, issued.json()["access_token"])
    result = call(service, "modern", "me", {})["structuredContent"]
    assert result["user"] is None and result["client"] == made.client_id
    assert result["caller"] == "Application" and result["roles"] == ""


def test_the_mcp_path_makes_no_query_for_the_caller(mcp, authored, django_assert_max_num_queries):
    call(mcp, "modern", "count_words", {"text": "warm"})  # the first request loads what is kept
    with django_assert_max_num_queries(0):
        assert call(mcp, "modern", "count_words", {"text": "a b"})["structuredContent"] == {"result": 2}


# What JSON (as the server parses it) can carry: no infinities, integers within 64 bits.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
argument_names = st.sampled_from(
    ["title", "priority", "where", "tags", "mode", "limit", "id", "topic", "tone"]
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=st.sampled_from(["plan", "count_words", "read_note", "me"]),
    arguments=st.dictionaries(argument_names, json_values, max_size=4),
    uri=st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=10).map(
        lambda tail: f"notes://{tail}"
    ),
)
def test_no_argument_makes_a_typed_capability_answer_500(mcp, authored, name, arguments, uri):
    called = mcp.modern("tools/call", {"name": name, "arguments": arguments})
    assert called.status_code == 200, called.content
    assert "result" in called.json()
    read = mcp.modern("resources/read", {"uri": uri})
    assert read.status_code in (200, 400), read.content
    assert "result" in read.json() or read.json()["error"]["code"] == -32602
    prompted = mcp.modern(
        "prompts/get", {"name": "brief", "arguments": {k: str(v) for k, v in arguments.items()}}
    )
    assert prompted.status_code in (200, 400), prompted.content

"""MCP methods: built-ins, visibility by scope, role and policy, pagination, audit."""

from __future__ import annotations

import json

import pytest

from mcpserver import audit
from mcpserver.auth import AccessToken
from mcpserver.exceptions import InvalidParams
from mcpserver.methods.context import Context
from mcpserver.methods.tools import tools_list
from mcpserver.pagination import paginate
from mcpserver.registry import Registry, tool

pytestmark = pytest.mark.django_db


def call(mcp, name, arguments=None, **kwargs):
    response = mcp.modern("tools/call", {"name": name, "arguments": arguments or {}}, **kwargs)
    assert response.status_code == 200
    # A generator tool's JSON answer is streamed (whitespace while it works; see
    # transport.answers._JsonStream).
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return json.loads(body)["result"]


def test_tools_list_shapes(mcp):
    tools = {t["name"]: t for t in mcp.modern("tools/list").json()["result"]["tools"]}
    assert list(tools) == sorted(tools)
    assert set(tools) >= {"echo", "get_time", "whoami", "long_task"}
    for described in tools.values():
        assert described["description"]
        assert described["inputSchema"]["type"] == "object"
    assert tools["whoami"]["inputSchema"] == {"type": "object", "additionalProperties": False}
    assert "outputSchema" in tools["get_time"]


def test_echo(mcp):
    assert call(mcp, "echo", {"message": "hi", "repeat_count": 3})["content"] == [
        {"type": "text", "text": "hi\nhi\nhi"}
    ]


SCHEMA_FAILURES = [
    ({}, "arguments: 'message' is a required property"),
    ({"message": 5}, "arguments.message: 5 is not of type 'string'"),
    ({"message": "x", "repeat_count": 11}, "arguments.repeat_count: 11 is greater than the maximum of 10"),
    ({"message": "x", "repeat_count": 0}, "arguments.repeat_count: 0 is less than the minimum of 1"),
    ({"message": "x", "repeat_count": "2"}, "arguments.repeat_count: '2' is not of type 'integer'"),
    (
        {"message": "x", "extra": 1},
        "arguments: Additional properties are not allowed ('extra' was unexpected)",
    ),
]


@pytest.mark.parametrize(("arguments", "reason"), SCHEMA_FAILURES)
@pytest.mark.parametrize("era", ["modern", "legacy"])
def test_schema_invalid_arguments_are_a_tool_error_the_model_can_correct(mcp, era, arguments, reason):
    """2025-11-25 (SEP-1303) and later: input validation failures are tool execution errors, not
    protocol errors, so that the model sees the reason and can retry."""
    params = {"name": "echo", "arguments": arguments}
    response = mcp.modern("tools/call", params) if era == "modern" else mcp.legacy("tools/call", params)
    assert response.status_code == 200, response.content
    result = response.json()["result"]
    assert result["isError"] is True
    assert reason in result["content"][0]["text"]


def test_arguments_that_are_not_an_object_stay_a_protocol_error(mcp):
    for era in ("modern", "legacy"):
        params = {"name": "echo", "arguments": ["hi"]}
        response = mcp.modern("tools/call", params) if era == "modern" else mcp.legacy("tools/call", params)
        assert response.json()["error"]["code"] == -32602
        assert response.json()["error"]["message"] == "arguments must be an object"


def test_unknown_tool_is_32602(mcp):
    response = mcp.modern("tools/call", {"name": "nope"})
    assert response.json()["error"]["code"] == -32602
    assert mcp.legacy("tools/call", {"name": "nope"}).json()["error"]["code"] == -32602


def test_get_time(mcp):
    result = call(mcp, "get_time", {"timezone": "Europe/Paris"})
    assert result["structuredContent"]["timezone"] == "Europe/Paris"
    assert "isError" not in result
    assert call(mcp, "get_time")["structuredContent"]["timezone"] == "UTC"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "", "\x00"])
def test_get_time_unknown_zone_is_a_tool_error(mcp, zone):
    result = call(mcp, "get_time", {"timezone": zone})
    assert result["isError"] is True
    assert "Unknown time zone" in result["content"][0]["text"]


def test_whoami(mcp, issue):
    token = issue(username="carol", roles=["user"])
    result = call(mcp, "whoami", token=token)["structuredContent"]
    assert result["username"] == "carol"
    assert result["roles"] == ["user"]
    assert result["scopes"] == ["mcp:prompts", "mcp:read", "mcp:tools"]
    assert result["client_id"]


def test_client_credentials_token_via_token_endpoint(client, roles, make_client):
    import base64

    from authserver import keys

    keys.ensure_key()
    made = make_client(
        "svc", grant="client-credentials", scopes=["mcp:read", "mcp:tools"], client_secret="s3cret-value"
    )
    basic = base64.b64encode(f"{made.client_id}:s3cret-value".encode()).decode()
    issued = client.post(
        "/oauth/token/",
        "grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert issued.status_code == 200, issued.content
    from .conftest import McpClient

    mcp = McpClient(client, issued.json()["access_token"])
    result = call(mcp, "whoami")["structuredContent"]
    assert result["subject"] == made.client_id and result["username"] is None


def test_tool_exception_is_an_error_result_without_internals(mcp):
    from django.apps import apps

    @tool("boom")
    def boom(ctx):
        raise RuntimeError("secret internals")

    app = apps.get_app_config("mcpserver")
    original, app.registry = app.registry, Registry([boom.__mcp__])
    try:
        result = call(mcp, "boom")
    finally:
        app.registry = original
    assert result["isError"] is True
    assert "secret" not in result["content"][0]["text"]


def test_prompts(mcp, issue):
    token = issue(username="dave")
    prompts = mcp.modern("prompts/list", token=token).json()["result"]["prompts"]
    assert [p["name"] for p in prompts] == ["greeting", "help", "summarise_notes"]  # sorted; the last: notes/
    greeting = mcp.modern("prompts/get", {"name": "greeting", "arguments": {"topic": "tea"}}, token=token)
    text = greeting.json()["result"]["messages"][0]["content"]["text"]
    assert "dave" in text and "tea" in text
    help_text = mcp.modern("prompts/get", {"name": "help"}, token=token).json()["result"]["messages"][0][
        "content"
    ]
    assert "echo" in help_text["text"]


def test_prompt_errors(mcp):
    assert mcp.modern("prompts/get", {"name": "nope"}).json()["error"]["code"] == -32602
    bad = mcp.modern("prompts/get", {"name": "greeting", "arguments": {"topic": 5}})
    assert bad.json()["error"]["code"] == -32602


def test_prompt_missing_required_argument_is_32602(mcp):
    from django.apps import apps

    from mcpserver.registry import PromptArgument, prompt

    @prompt("needs_arg", arguments=[PromptArgument("who", required=True)])
    def needs_arg(ctx, who):
        return who

    app = apps.get_app_config("mcpserver")
    original, app.registry = app.registry, Registry([needs_arg.__mcp__])
    try:
        response = mcp.modern("prompts/get", {"name": "needs_arg"})
    finally:
        app.registry = original
    assert response.json()["error"]["code"] == -32602


def test_resources(mcp):
    listed = mcp.modern("resources/list").json()["result"]["resources"]
    assert listed[0]["uri"] == "mcp://server/description"
    templates = mcp.modern("resources/templates/list").json()["result"]["resourceTemplates"]
    assert templates[0]["uriTemplate"] == "mcp://tools/{name}"
    read = mcp.modern("resources/read", {"uri": "mcp://server/description"}).json()["result"]
    assert read["contents"][0]["mimeType"] == "text/markdown"
    assert "2026-07-28" in read["contents"][0]["text"]
    echo = mcp.modern("resources/read", {"uri": "mcp://tools/echo"}).json()["result"]
    assert '"name": "echo"' in echo["contents"][0]["text"]


def test_unknown_resource_is_32602_with_uri(mcp):
    for uri in ("mcp://nope", "mcp://tools/nope"):
        error = mcp.modern("resources/read", {"uri": uri}).json()["error"]
        assert error["code"] == -32602 and error["data"] == {"uri": uri}


# --- visibility ---


def test_callers_see_only_what_they_may_use(mcp, issue):
    reader = issue(scopes=["mcp:read"], roles=["guest"])
    assert mcp.modern("tools/list", token=reader).json()["result"]["tools"] == []
    assert mcp.modern("prompts/list", token=reader).json()["result"]["prompts"] == []
    assert mcp.modern("resources/list", token=reader).json()["result"]["resources"]


@pytest.mark.parametrize("era", ["modern", "legacy"])
def test_a_list_emptied_by_a_missing_scope_says_which_scope_it_needs(mcp, issue, era):
    """A token with mcp:read alone lists no tools and no prompts; the result's _meta says why."""
    reader = issue(scopes=["mcp:read"])
    ask = mcp.modern if era == "modern" else mcp.legacy
    tools = ask("tools/list", token=reader).json()["result"]
    assert tools["tools"] == []
    assert "mcp:tools" in tools["_meta"]["scopeHint"]
    prompts = ask("prompts/list", token=reader).json()["result"]
    assert "mcp:prompts" in prompts["_meta"]["scopeHint"]
    assert "_meta" not in ask("resources/list", token=reader).json()["result"]  # mcp:read covers them

    everything = issue()
    assert "_meta" not in ask("tools/list", token=everything).json()["result"]
    assert "_meta" not in ask("prompts/list", token=everything).json()["result"]


def _registry_with_admin_tool():
    @tool("admin_only", roles=["admin"], scopes=["mcp:read"])
    def admin_only(ctx):
        return "secret"

    return Registry([admin_only.__mcp__])


def test_role_restricted_tool(mcp, issue):
    from django.apps import apps

    app = apps.get_app_config("mcpserver")
    original, app.registry = app.registry, _registry_with_admin_tool()
    try:
        user, admin = issue(roles=["user"]), issue(roles=["admin"])
        assert mcp.modern("tools/list", token=user).json()["result"]["tools"] == []
        assert mcp.modern("tools/call", {"name": "admin_only"}, token=user).json()["error"]["code"] == -32602
        assert [t["name"] for t in mcp.modern("tools/list", token=admin).json()["result"]["tools"]] == [
            "admin_only"
        ]
        assert call(mcp, "admin_only", token=admin)["content"][0]["text"] == "secret"
    finally:
        app.registry = original


def test_tool_declared_scopes_are_required_and_named_in_the_403(mcp, issue):
    from django.apps import apps

    @tool("special", scopes=["mcp:special"])
    def special(ctx):
        return "ok"

    app = apps.get_app_config("mcpserver")
    original, app.registry = app.registry, Registry([special.__mcp__])
    try:
        response = mcp.modern("tools/call", {"name": "special"})
    finally:
        app.registry = original
    assert response.status_code == 403
    assert 'scope="mcp:special mcp:tools"' in response["WWW-Authenticate"]


def test_admin_policy_disables_or_restricts_a_tool(mcp):
    from mcpserver.models import ToolPolicy

    ToolPolicy.objects.create(name="echo", enabled=False)
    names = [t["name"] for t in mcp.modern("tools/list").json()["result"]["tools"]]
    assert "echo" not in names
    assert (
        mcp.modern("tools/call", {"name": "echo", "arguments": {"message": "x"}}).json()["error"]["code"]
        == -32602
    )
    policy = ToolPolicy.objects.get(name="echo")
    policy.enabled, policy.scopes = True, "mcp:extra"
    policy.save()
    response = mcp.modern("tools/call", {"name": "echo", "arguments": {"message": "x"}})
    assert response.status_code == 403
    assert 'scope="mcp:extra mcp:tools"' in response["WWW-Authenticate"]
    policy.scopes, policy.roles = None, "admin"
    policy.save()
    assert "echo" not in [t["name"] for t in mcp.modern("tools/list").json()["result"]["tools"]]


# --- pagination ---


def _caller(scopes=("mcp:read", "mcp:tools")):
    return AccessToken("d", "sub", "client", None, frozenset(scopes), frozenset(), 2**40)


def _many_tools(count):
    definitions = []
    for index in range(count):

        @tool(f"tool_{index:03d}")
        def handler(ctx):
            return "x"

        definitions.append(handler.__mcp__)
    return Registry(definitions)


def test_pagination_walks_every_item_once_in_order(settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "PAGE_SIZE": 7}
    registry = _many_tools(30)
    seen, cursor = [], None
    while True:
        params = {"cursor": cursor} if cursor else {}
        page = tools_list(Context(_caller(), registry, "modern", "2026-07-28", params))
        seen += [t["name"] for t in page["tools"]]
        cursor = page.get("nextCursor")
        if cursor is None:
            break
        assert isinstance(cursor, str)
    assert seen == sorted(f"tool_{i:03d}" for i in range(30))


def test_exact_page_has_no_next_cursor(settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "PAGE_SIZE": 5}
    page = tools_list(Context(_caller(), _many_tools(5), "modern", "2026-07-28", {}))
    assert "nextCursor" not in page and len(page["tools"]) == 5


@pytest.mark.parametrize("cursor", ["!!!", "bm9wZQ==", 5, ["x"], "é"])
def test_invalid_cursor_is_32602(cursor):
    with pytest.raises(InvalidParams):
        paginate({"cursor": cursor}, [], "tools")


def test_invalid_cursor_over_http(mcp):
    assert mcp.modern("tools/list", {"cursor": "garbage!"}).json()["error"]["code"] == -32602


# --- audit ---


def test_calls_are_audited_without_arguments(mcp, token):
    from mcpserver.models import AuditRecord

    call(mcp, "echo", {"message": "private words"})
    call(mcp, "get_time", {"timezone": "Nowhere/Land"})
    mcp.modern("tools/call", {"name": "echo", "arguments": {}})
    mcp.modern("prompts/get", {"name": "greeting"})
    mcp.modern("resources/read", {"uri": "mcp://server/description"})
    assert audit.pending() == 5
    assert audit.flush() == 5
    records = {(r.kind, r.name): r for r in AuditRecord.objects.all()}
    echo = records[("tool", "echo")]
    assert echo.outcome in ("ok", "invalid")
    assert [r.outcome for r in AuditRecord.objects.filter(name="echo").order_by("id")] == ["ok", "invalid"]
    ok = AuditRecord.objects.filter(name="echo", outcome="ok").get()
    assert ok.argument_bytes > 0 and len(ok.argument_digest) == 64
    assert ok.client_id and ok.subject and ok.protocol_version == "2026-07-28"
    assert records[("tool", "get_time")].outcome == "error"
    assert records[("prompt", "greeting")].outcome == "ok"
    assert records[("resource", "mcp://server/description")].outcome == "ok"
    assert not AuditRecord.objects.filter(argument_digest__contains="private").exists()


def test_an_invalid_call_is_audited_with_its_reason(mcp):
    from mcpserver.models import AuditRecord

    mcp.modern("tools/call", {"name": "echo", "arguments": {"message": "x", "repeat_count": 11}})
    audit.flush()
    record = AuditRecord.objects.get(name="echo")
    assert record.outcome == "invalid"
    assert record.detail == "arguments.repeat_count: 11 is greater than the maximum of 10"


def test_a_call_refused_for_a_missing_scope_is_audited_as_denied(mcp, issue):
    from mcpserver.models import AuditRecord

    read_only = issue(scopes=["mcp:read"])
    response = mcp.modern("tools/call", {"name": "echo", "arguments": {"message": "x"}}, token=read_only)
    assert response.status_code == 403
    audit.flush()
    record = AuditRecord.objects.get(name="echo")
    assert (record.kind, record.outcome) == ("tool", "denied")
    assert record.detail == "missing scope: mcp:tools"
    assert record.subject and record.client_id


def test_a_call_hidden_by_role_or_policy_is_audited_as_denied(mcp, issue):
    from django.apps import apps

    from mcpserver.models import AuditRecord, ToolPolicy

    app = apps.get_app_config("mcpserver")
    original, app.registry = app.registry, _registry_with_admin_tool()
    try:
        hidden = mcp.modern("tools/call", {"name": "admin_only"}, token=issue(roles=["user"]))
    finally:
        app.registry = original
    assert hidden.json()["error"]["code"] == -32602  # the caller still learns nothing of the tool
    ToolPolicy.objects.create(name="echo", enabled=False)
    disabled = mcp.legacy("tools/call", {"name": "echo", "arguments": {"message": "x"}})
    assert disabled.json()["error"]["code"] == -32602
    audit.flush()
    records = {r.name: (r.outcome, r.detail) for r in AuditRecord.objects.all()}
    assert records["admin_only"] == ("denied", "needs one of the roles: admin")
    assert records["echo"] == ("denied", "disabled by policy")


def test_an_unknown_tool_leaves_no_audit_record(mcp):
    mcp.modern("tools/call", {"name": "nope"})
    assert audit.pending() == 0


def test_a_denied_prompt_is_audited_too(mcp, issue):
    from mcpserver.models import AuditRecord

    response = mcp.modern("prompts/get", {"name": "greeting"}, token=issue(scopes=["mcp:read"]))
    assert response.status_code == 403
    audit.flush()
    record = AuditRecord.objects.get()
    assert (record.kind, record.name, record.outcome) == ("prompt", "greeting", "denied")
    assert record.detail == "missing scope: mcp:prompts"


def test_audit_admin_is_read_only(admin_client, settings):
    from mcpserver.models import AuditRecord

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    assert admin_client.get("/admin/mcpserver/auditrecord/").status_code == 200
    assert admin_client.get("/admin/mcpserver/auditrecord/add/").status_code == 403
    assert AuditRecord.objects.count() == 0


def test_completion(mcp):
    from mcpserver.registry import PromptArgument, prompt

    @prompt("pick", arguments=[PromptArgument("city", choices=("paris", "park", "rome"))])
    def pick(ctx, city=""):
        return city

    from django.apps import apps

    app = apps.get_app_config("mcpserver")
    original, app.registry = app.registry, Registry([pick.__mcp__])
    try:
        ok = mcp.modern(
            "completion/complete",
            {"ref": {"type": "ref/prompt", "name": "pick"}, "argument": {"name": "city", "value": "par"}},
        )
        unknown = mcp.modern(
            "completion/complete",
            {"ref": {"type": "ref/prompt", "name": "nope"}, "argument": {"name": "city", "value": ""}},
        )
        bad = mcp.modern("completion/complete", {"ref": "x", "argument": {}})
    finally:
        app.registry = original
    assert ok.json()["result"]["completion"] == {"values": ["paris", "park"], "total": 2, "hasMore": False}
    assert unknown.json()["error"]["code"] == -32602
    assert bad.json()["error"]["code"] == -32602


def test_tool_policy_admin_offers_the_registered_tools(admin_client):
    from mcpserver.models import ToolPolicy

    page = admin_client.get("/admin/mcpserver/toolpolicy/add/")
    assert page.status_code == 200
    assert b'value="echo"' in page.content and b'value="whoami"' in page.content
    saved = admin_client.post(
        "/admin/mcpserver/toolpolicy/add/", {"name": "echo", "enabled": "", "scopes": "", "roles": "admin"}
    )
    assert saved.status_code == 302, saved.content
    policy = ToolPolicy.objects.get(name="echo")
    assert policy.enabled is False and policy.scopes is None and policy.roles == "admin"


def test_generator_tool_with_a_bad_signature_is_a_tool_error(mcp):
    from django.apps import apps

    @tool("open_schema", input_schema={"type": "object"})
    def open_schema(ctx):
        yield from ()
        return "never"

    app = apps.get_app_config("mcpserver")
    original, app.registry = app.registry, Registry([open_schema.__mcp__])
    try:
        result = call(mcp, "open_schema", {"unexpected": 1})
    finally:
        app.registry = original
    assert result["isError"] is True

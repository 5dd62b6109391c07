"""Streamable HTTP rules: both eras, headers, sessions, JSON-RPC errors, limits, Origin and CORS."""

from __future__ import annotations

import base64
import json

import pytest

from .conftest import CAPS_KEY, MODERN, PV_KEY

pytestmark = pytest.mark.django_db


def close_response(response) -> None:
    """Close as the server does when a client leaves (the test client keeps the test's transaction)."""
    response.close()


def b64(value: str) -> str:
    return f"=?base64?{base64.b64encode(value.encode()).decode()}?="


# --- 2026-07-28 ---


def test_server_discover(mcp):
    response = mcp.modern("server/discover")
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["supportedVersions"] == [MODERN]
    assert result["resultType"] == "complete"
    assert result["cacheScope"] == "public" and result["ttlMs"] >= 0
    assert set(result["capabilities"]) >= {"tools", "prompts", "resources"}
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == result["serverInfo"]["name"]


def test_every_modern_result_has_a_result_type_and_lists_have_cache_hints(mcp):
    for method in ("tools/list", "prompts/list", "resources/list", "resources/templates/list"):
        result = mcp.modern(method).json()["result"]
        assert result["resultType"] == "complete"
        assert result["cacheScope"] == "private" and isinstance(result["ttlMs"], int)
    call = mcp.modern("tools/call", {"name": "echo", "arguments": {"message": "x"}}).json()["result"]
    assert call["resultType"] == "complete" and "ttlMs" not in call
    read = mcp.modern("resources/read", {"uri": "mcp://server/description"}).json()["result"]
    assert read["cacheScope"] == "private"


def test_missing_meta_is_400_invalid_params(mcp):
    body = {"jsonrpc": "2.0", "id": 7, "method": "server/discover", "params": {}}
    response = mcp.raw(body, {"MCP-Protocol-Version": MODERN, "Mcp-Method": "server/discover"})
    assert response.status_code == 400
    assert response.json() == {"jsonrpc": "2.0", "id": 7, "error": response.json()["error"]}
    assert response.json()["error"]["code"] == -32602


def test_missing_client_capabilities_is_invalid_params(mcp):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {PV_KEY: MODERN}}}
    response = mcp.raw(body, {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32602


@pytest.mark.parametrize(
    "headers",
    [
        {"MCP-Protocol-Version": None},
        {"MCP-Protocol-Version": "2025-11-25"},
        {"Mcp-Method": None},
        {"Mcp-Method": "tools/list"},
        {"Mcp-Name": None},
        {"Mcp-Name": "whoami"},
        {"Mcp-Name": "=?base64?!!!?="},
    ],
    ids=["no-version", "other-version", "no-method", "other-method", "no-name", "other-name", "bad-base64"],
)
def test_header_mismatch_is_400_32020(mcp, headers):
    response = mcp.modern("tools/call", {"name": "echo", "arguments": {"message": "hi"}}, headers=headers)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == -32020
    assert response.json()["id"] == mcp.counter


def test_header_names_are_case_insensitive_and_values_may_be_base64(mcp):
    response = mcp.modern(
        "tools/call",
        {"name": "echo", "arguments": {"message": "hi"}},
        headers={"Mcp-Name": None, "mcp-name": b64("echo"), "Mcp-Method": b64("tools/call")},
    )
    assert response.status_code == 200, response.content


def test_non_ascii_resource_uri_travels_base64_encoded(mcp):
    uri = "mcp://tools/échec"
    response = mcp.modern("resources/read", {"uri": uri}, headers={"Mcp-Name": b64(uri)})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32602  # unknown, but the headers matched
    assert response.json()["error"]["data"] == {"uri": uri}


def test_unsupported_version_is_400_32022_with_supported_list(mcp):
    response = mcp.modern(
        "tools/list", headers={"MCP-Protocol-Version": "2099-01-01"}, meta={PV_KEY: "2099-01-01"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == -32022
    assert error["data"]["supported"] == [MODERN]
    assert error["data"]["requested"] == "2099-01-01"
    assert "2099-01-01" in error["message"] and MODERN in error["message"]


SPOKEN = ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"]


@pytest.mark.parametrize("version", ["2024-11-05", "2099-01-01", "garbage"])
def test_a_wrong_protocol_version_header_names_the_versions_this_server_speaks(mcp, version):
    """A client on a revision we do not speak (no ``_meta``: it is not a 2026-07-28 client) learns
    which ones we do, rather than being told its ``_meta`` is missing."""
    response = mcp.legacy("ping", version=version)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == -32022
    assert f"Unsupported MCP-Protocol-Version: {version}" in error["message"]
    assert all(spoken in error["message"] for spoken in SPOKEN)
    assert error["data"] == {"supported": SPOKEN, "requested": version}


@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
def test_a_spoken_version_without_meta_is_still_told_its_meta_is_missing(mcp, version):
    body = {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {}}
    response = mcp.raw(body, {"MCP-Protocol-Version": version, "Mcp-Method": "server/discover"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32602


def test_a_batch_with_a_wrong_protocol_version_header_names_the_versions_too(mcp):
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "ping"}]
    response = mcp.raw(batch, {"MCP-Protocol-Version": "2024-11-05"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert "2024-11-05" in error["message"]
    assert all(spoken in error["message"] for spoken in SPOKEN)


def test_unknown_method_is_404_32601(mcp):
    response = mcp.modern("tools/explode")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == -32601


def test_ping_and_initialize_are_not_modern_methods(mcp):
    assert mcp.modern("ping").status_code == 404
    response = mcp.modern("initialize", {"protocolVersion": MODERN, "capabilities": {}})
    assert response.status_code == 404 and response.json()["error"]["code"] == -32601


def test_header_values_exclude_surrounding_whitespace(mcp):
    response = mcp.modern(
        "tools/call", {"name": "echo", "arguments": {"message": "x"}}, headers={"Mcp-Name": " echo\t"}
    )
    assert response.status_code == 200


def test_missing_client_capability_is_400_32021(mcp, settings):
    from django.apps import apps

    from mcpserver.registry import Registry, tool

    @tool("needs_elicitation", client_capabilities=["elicitation"])
    def needs(ctx):
        return "ok"

    app = apps.get_app_config("mcpserver")
    original = app.registry
    app.registry = Registry([needs.__mcp__])
    try:
        response = mcp.modern("tools/call", {"name": "needs_elicitation"})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32021
        assert response.json()["error"]["data"] == {"requiredCapabilities": {"elicitation": {}}}
        ok = mcp.modern("tools/call", {"name": "needs_elicitation"}, meta={CAPS_KEY: {"elicitation": {}}})
        assert ok.status_code == 200
    finally:
        app.registry = original


def test_modern_notification_is_202_without_body(mcp):
    body = {
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"_meta": {PV_KEY: MODERN, CAPS_KEY: {}}, "requestId": 1},
    }
    response = mcp.raw(body, {"MCP-Protocol-Version": MODERN, "Mcp-Method": "notifications/cancelled"})
    assert response.status_code == 202
    assert response.content == b""


# --- 2025 handshake era ---


@pytest.mark.parametrize(
    ("requested", "answered"),
    [
        ("2025-11-25", "2025-11-25"),
        ("2025-06-18", "2025-06-18"),
        ("2025-03-26", "2025-03-26"),
        ("2026-07-28", "2025-11-25"),
        ("2030-01-01", "2025-11-25"),
        ("2024-11-05", "2025-11-25"),
    ],
)
def test_initialize_negotiates(mcp, requested, answered):
    response = mcp.initialize(requested)
    result = response.json()["result"]
    assert result["protocolVersion"] == answered
    assert result["serverInfo"]["name"]
    assert "tools" in result["capabilities"]
    session = response["Mcp-Session-Id"]
    assert session and all(0x21 <= ord(c) <= 0x7E for c in session)


def test_legacy_session_flow(mcp):
    session = mcp.initialize()["Mcp-Session-Id"]
    headers = {"Mcp-Session-Id": session}
    assert mcp.legacy("notifications/initialized", headers=headers, notification=True).status_code == 202
    pong = mcp.legacy("ping", headers=headers)
    assert pong.status_code == 200 and pong.json()["result"] == {}
    tools = mcp.legacy("tools/list", headers=headers).json()["result"]
    assert "resultType" not in tools and "echo" in [tool["name"] for tool in tools["tools"]]
    assert mcp.raw("", headers=headers, method="delete").status_code == 204
    gone = mcp.legacy("ping", headers=headers)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == -32001


def test_unknown_session_is_404(mcp):
    response = mcp.legacy("tools/list", headers={"Mcp-Session-Id": "no-such-session"})
    assert response.status_code == 404


def test_a_session_belongs_to_its_caller(mcp, issue):
    session = mcp.initialize()["Mcp-Session-Id"]
    other = issue()
    assert mcp.legacy("ping", headers={"Mcp-Session-Id": session}, token=other).status_code == 404
    assert mcp.raw("", headers={"Mcp-Session-Id": session}, token=other, method="delete").status_code == 404


def test_delete_without_session_is_400(mcp):
    assert mcp.raw("", method="delete").status_code == 400


def test_get_is_405(mcp):
    response = mcp.client.get("/mcp", HTTP_AUTHORIZATION=f"Bearer {mcp.token}")
    assert response.status_code == 405
    assert "POST" in response["Allow"]


def test_unsupported_legacy_protocol_version_header_is_400(mcp):
    session = mcp.initialize()["Mcp-Session-Id"]
    response = mcp.legacy("ping", headers={"Mcp-Session-Id": session}, version="2025-13-45")
    assert response.status_code == 400


def test_legacy_unknown_method_is_32601(mcp):
    response = mcp.legacy("tools/explode")
    assert response.json()["error"]["code"] == -32601


def test_batches_only_in_2025_03_26(mcp):
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": "b"}},
        },
        {"jsonrpc": "2.0", "id": 3, "method": "nope"},
        {"jsonrpc": "2.0", "id": 4, "method": "initialize", "params": {"protocolVersion": "2025-03-26"}},
        "not a message",
    ]
    response = mcp.raw(batch)  # no MCP-Protocol-Version header: 2025-03-26
    assert response.status_code == 200
    answers = {answer["id"]: answer for answer in response.json()}
    assert answers[1]["result"] == {}
    assert answers[2]["result"]["content"][0]["text"] == "b"
    assert answers[3]["error"]["code"] == -32601
    assert answers[4]["error"]["code"] == -32600
    assert answers[None]["error"]["code"] == -32600
    refused = mcp.raw(batch, {"MCP-Protocol-Version": "2025-11-25"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == -32600
    assert mcp.raw([]).status_code == 400


def test_batch_of_notifications_only_is_202(mcp):
    response = mcp.raw([{"jsonrpc": "2.0", "method": "notifications/initialized"}])
    assert response.status_code == 202


def test_client_response_message_is_202(mcp):
    assert mcp.raw({"jsonrpc": "2.0", "id": 5, "result": {}}).status_code == 202


# --- JSON-RPC errors and limits ---


def test_parse_error(mcp):
    response = mcp.raw(b"{not json")
    assert response.status_code == 400
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "Parse error"},
    }


@pytest.mark.parametrize(
    "body",
    [
        {"id": 1, "method": "ping"},
        {"jsonrpc": "1.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1, "method": 5},
        {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]},
        {"jsonrpc": "2.0", "id": 1.5, "method": "ping"},
        {"jsonrpc": "2.0", "id": None, "method": "ping"},
        {"jsonrpc": "2.0", "id": True, "method": "ping"},
        '"a string"',
        "42",
    ],
)
def test_invalid_request(mcp, body):
    response = mcp.raw(body, {"MCP-Protocol-Version": "2025-11-25"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32600


def test_error_echoes_the_request_id_when_readable(mcp):
    response = mcp.raw({"jsonrpc": "2.0", "id": "abc", "method": "ping", "params": "x"})
    assert response.json()["id"] == "abc"


def test_body_too_large_is_413(mcp, settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "MAX_BODY_BYTES": 1000}
    response = mcp.modern("tools/call", {"name": "echo", "arguments": {"message": "x" * 2000}})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == -32600


def test_too_deep_json_is_400(mcp):
    deep = "[" * 100 + "]" * 100
    response = mcp.raw(deep.encode())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32600
    very_deep = ("[" * 100_000 + "]" * 100_000).encode()
    assert mcp.raw(very_deep).status_code in (400, 413)


def test_nan_is_not_json(mcp):
    assert (
        mcp.raw(b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":NaN}}').json()["error"]["code"]
        == -32700
    )


def test_wrong_content_type_is_415(mcp):
    assert mcp.raw("{}", content_type="text/plain").status_code == 415


def test_endpoint_has_no_trailing_slash_and_no_redirect(mcp):
    assert mcp.client.post("/mcp/", "{}", content_type="application/json").status_code == 404


# --- Origin and CORS ---


def test_foreign_origin_is_403(mcp):
    response = mcp.modern("tools/list", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.parametrize(
    "origin", ["http://localhost:6274", "http://127.0.0.1:3000", "http://[::1]:9", "http://localhost"]
)
def test_a_loopback_server_accepts_loopback_origins(mcp, origin):
    assert mcp.modern("tools/list", headers={"Origin": origin}).status_code == 200


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost.evil.example",
        "http://127.0.0.1.nip.io",
        "null",
        "file://",
        "http://localhost:99999",
        "http://localhost/path",
    ],
)
def test_lookalike_origins_are_refused(mcp, origin):
    assert mcp.modern("tools/list", headers={"Origin": origin}).status_code == 403


def test_loopback_origins_are_not_special_for_a_public_server(mcp, settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "RESOURCE_URL": "https://mcp.example/mcp"}
    assert mcp.modern("tools/list", headers={"Origin": "http://localhost:6274"}).status_code == 403


def test_own_and_allowed_origins_get_cors_headers(mcp, settings):
    own = mcp.modern("tools/list", headers={"Origin": "http://127.0.0.1:8000"})
    assert own.status_code == 200
    assert own["Access-Control-Allow-Origin"] == "http://127.0.0.1:8000"
    assert "Mcp-Session-Id" in own["Access-Control-Expose-Headers"]
    assert "WWW-Authenticate" in own["Access-Control-Expose-Headers"]
    settings.MCPSERVER = {**settings.MCPSERVER, "ALLOWED_ORIGINS": ["http://localhost:6274"]}
    assert mcp.modern("tools/list", headers={"Origin": "http://localhost:6274"}).status_code == 200


def test_preflight(client):
    response = client.options(
        "/mcp", HTTP_ORIGIN="http://127.0.0.1:8000", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert response.status_code == 204
    allowed = response["Access-Control-Allow-Headers"].lower()
    for name in (
        "authorization",
        "content-type",
        "mcp-protocol-version",
        "mcp-method",
        "mcp-name",
        "mcp-session-id",
        "last-event-id",
    ):
        assert name in allowed
    assert "POST" in response["Access-Control-Allow-Methods"]


def test_401_from_an_allowed_origin_exposes_www_authenticate(mcp):
    response = mcp.modern("tools/list", token="", headers={"Origin": "http://127.0.0.1:8000"})
    assert response.status_code == 401
    assert "WWW-Authenticate" in response["Access-Control-Expose-Headers"]


# --- protected resource metadata ---


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
)
def test_protected_resource_metadata(client, path, settings):
    response = client.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["resource"] == settings.MCP_RESOURCE_URL
    assert body["authorization_servers"] == [settings.OAUTH_ISSUER]
    assert body["scopes_supported"] == ["mcp:read", "mcp:tools", "mcp:prompts"]
    assert body["bearer_methods_supported"] == ["header"]
    assert body["resource_name"]
    assert response["Access-Control-Allow-Origin"] == "*"


def test_head_answers_like_get_on_the_metadata_and_is_refused_on_the_endpoint(client):
    for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
        response = client.head(path)
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        assert response["Cache-Control"] == "public, max-age=3600"
    response = client.head("/mcp")
    assert response.status_code == 405
    assert "HEAD" not in response["Allow"]


def test_issuer_in_metadata_matches_the_authorization_server(client):
    prm = client.get("/.well-known/oauth-protected-resource/mcp").json()
    server = client.get("/.well-known/oauth-authorization-server").json()
    assert prm["authorization_servers"] == [server["issuer"]]


def test_sse_response_streams_progress_then_result(mcp):
    response = mcp.modern(
        "tools/call",
        {"name": "long_task", "arguments": {"steps": 3, "interval_ms": 0}},
        meta={"progressToken": "p1", "io.modelcontextprotocol/logLevel": "debug"},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response["X-Accel-Buffering"] == "no"
    events = [
        json.loads(line[len("data: ") :])
        for line in b"".join(response.streaming_content).decode().splitlines()
        if line.startswith("data: ")
    ]
    progress = [event["params"] for event in events if event.get("method") == "notifications/progress"]
    assert [p["progress"] for p in progress] == [1, 2, 3]
    assert all(p["progressToken"] == "p1" and p["total"] == 3 for p in progress)
    assert any(event.get("method") == "notifications/message" for event in events)
    assert events[-1]["id"] == mcp.counter
    assert events[-1]["result"]["content"][0]["text"] == "Finished 3 steps."
    assert events[-1]["result"]["resultType"] == "complete"


def test_json_only_client_gets_the_result_without_notifications(mcp):
    body = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "tools/call",
        "params": {
            "name": "long_task",
            "arguments": {"steps": 2, "interval_ms": 0},
            "_meta": {"progressToken": 1},
        },
    }
    response = mcp.client.post(
        "/mcp",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {mcp.token}",
        HTTP_ACCEPT="application/json",
        HTTP_MCP_PROTOCOL_VERSION="2025-11-25",
    )
    assert response["Content-Type"] == "application/json"
    body = json.loads(b"".join(response.streaming_content))  # streamed: see test_limits
    assert body["result"]["content"][0]["text"] == "Finished 2 steps."


def test_closing_the_stream_cancels_the_tool_and_is_audited(mcp):
    from mcpserver import audit
    from mcpserver.models import AuditRecord

    response = mcp.modern(
        "tools/call",
        {"name": "long_task", "arguments": {"steps": 50, "interval_ms": 0}},
        meta={"progressToken": "p"},
    )
    stream = iter(response.streaming_content)
    next(stream)
    close_response(response)
    audit.flush()
    assert AuditRecord.objects.get(name="long_task").outcome == "cancelled"


def _events(response):
    text = b"".join(response.streaming_content).decode()
    return [json.loads(line[len("data: ") :]) for line in text.splitlines() if line.startswith("data: ")]


def test_modern_logs_only_on_opt_in(mcp):
    arguments = {"name": "long_task", "arguments": {"steps": 2, "interval_ms": 0}}
    quiet = _events(mcp.modern("tools/call", arguments, meta={"progressToken": 1}))
    assert not any(e.get("method") == "notifications/message" for e in quiet)
    above = _events(
        mcp.modern(
            "tools/call", arguments, meta={"progressToken": 1, "io.modelcontextprotocol/logLevel": "info"}
        )
    )
    assert not any(e.get("method") == "notifications/message" for e in above)  # the task logs at debug


def test_legacy_set_level_filters_session_logs(mcp):
    session = {"Mcp-Session-Id": mcp.initialize()["Mcp-Session-Id"]}
    arguments = {
        "name": "long_task",
        "arguments": {"steps": 2, "interval_ms": 0},
        "_meta": {"progressToken": "t"},
    }
    chatty = _events(mcp.legacy("tools/call", arguments, headers=session))
    assert any(e.get("method") == "notifications/message" for e in chatty)
    assert mcp.legacy("logging/setLevel", {"level": "warning"}, headers=session).json()["result"] == {}
    quiet = _events(mcp.legacy("tools/call", arguments, headers=session))
    assert not any(e.get("method") == "notifications/message" for e in quiet)
    assert [e["params"]["progress"] for e in quiet if e.get("method") == "notifications/progress"] == [1, 2]
    assert (
        mcp.legacy("logging/setLevel", {"level": "loud"}, headers=session).json()["error"]["code"] == -32602
    )


def test_foreign_host_is_4xx(mcp):
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    response = mcp.client.post(
        "/mcp",
        json.dumps(body),
        content_type="application/json",
        HTTP_HOST="evil.example",
        HTTP_AUTHORIZATION=f"Bearer {mcp.token}",
    )
    assert 400 <= response.status_code < 500


def test_a_stream_closed_before_it_started_is_audited_as_cancelled(mcp):
    from mcpserver import audit
    from mcpserver.models import AuditRecord

    response = mcp.modern(
        "tools/call",
        {"name": "long_task", "arguments": {"steps": 3, "interval_ms": 0}},
        meta={"progressToken": "p"},
    )
    close_response(response)
    audit.flush()
    assert AuditRecord.objects.get(name="long_task").outcome == "cancelled"


def test_a_finished_stream_is_audited_once(mcp):
    from mcpserver import audit
    from mcpserver.models import AuditRecord

    response = mcp.modern(
        "tools/call",
        {"name": "long_task", "arguments": {"steps": 2, "interval_ms": 0}},
        meta={"progressToken": "p"},
    )
    b"".join(response.streaming_content)
    close_response(response)
    audit.flush()
    assert [r.outcome for r in AuditRecord.objects.filter(name="long_task")] == ["ok"]


def test_post_needs_no_csrf_token_even_with_a_session_cookie(token):
    """Bearer-token JSON-RPC is exempt from CSRF (Django's test client skips the check unless told)."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.cookies["sessionid"] = "a-browser-session"
    response = client.post(
        "/mcp",
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_MCP_PROTOCOL_VERSION="2025-11-25",
        HTTP_ACCEPT="application/json, text/event-stream",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"jsonrpc": "2.0", "id": 1, "result": {}}

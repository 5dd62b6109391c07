"""The official MCP Python SDK client against the live server: modern and legacy eras, real tokens."""

from __future__ import annotations

import anyio
import httpx
import pytest

# The official SDK is a test-only dependency ("mcp>=2.3" in the test extras).
pytest.importorskip("mcp")
httpx2 = pytest.importorskip("httpx2")

from mcp.client import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402

from .flows import client_credentials  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_server_errors")


@pytest.fixture
def service_token(http) -> str:
    response = client_credentials(http)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def run(coroutine_function, *args):
    return anyio.run(coroutine_function, *args)


def sdk_client(url: str, token: str, mode: str) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return Client(streamable_http_client(url, http_client=http), mode=mode)


async def _session_tour(url: str, token: str, mode: str) -> dict:
    async with sdk_client(url, token, mode) as client:
        tools = await client.list_tools()
        echo = await client.call_tool("echo", {"message": "hello", "repeat_count": 2})
        clock = await client.call_tool("get_time", {"timezone": "Mars/Olympus"})
        whoami = await client.call_tool("whoami", {})
        prompt = await client.get_prompt("greeting", {"topic": "tests"})
        resources = await client.list_resources()
        description = await client.read_resource("mcp://server/description")
        progress: list[float] = []

        async def on_progress(value, total, message):
            progress.append(value)

        slow = await client.call_tool(
            "long_task", {"steps": 3, "interval_ms": 10}, progress_callback=on_progress
        )
        return {
            "version": client.session.protocol_version,
            "tools": sorted(tool.name for tool in tools.tools),
            "echo": echo.content[0].text,
            "clock_error": clock.is_error,
            "whoami": whoami.structured_content,
            "prompt": prompt.messages[0].content.text,
            "resources": [str(resource.uri) for resource in resources.resources],
            "description": description.contents[0].text,
            "progress": progress,
            "slow": slow.content[0].text,
        }


@pytest.mark.parametrize(("mode", "version"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
def test_sdk_client_tour(live_server, service_token, mode, version):
    seen = run(_session_tour, live_server.mcp_url, service_token, mode)
    assert seen["version"] == version
    assert seen["tools"] == ["echo", "get_time", "long_task", "search_notes", "whoami"]  # no role: no writes
    assert seen["echo"] == "hello\nhello"
    assert seen["clock_error"] is True
    assert seen["whoami"]["subject"] == "demo-service"
    assert seen["whoami"]["client_id"] == "demo-service"
    assert "demo-service" in seen["prompt"]
    assert seen["resources"] == ["mcp://server/description"]
    assert "2026-07-28" in seen["description"]
    assert seen["progress"] == [1, 2, 3]
    assert seen["slow"] == "Finished 3 steps."


async def _call(url: str, token: str, mode: str, name: str, arguments: dict):
    async with sdk_client(url, token, mode) as client:
        return await client.call_tool(name, arguments)


async def _error_code(url: str, token: str, mode: str, name: str, arguments: dict) -> int | None:
    async with sdk_client(url, token, mode) as client:
        try:
            await client.call_tool(name, arguments)
        except MCPError as exc:
            return exc.code
    return None


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_sdk_sees_json_rpc_errors(live_server, service_token, mode):
    assert run(_error_code, live_server.mcp_url, service_token, mode, "no_such_tool", {}) == -32602


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_sdk_sees_invalid_arguments_as_a_tool_error_with_the_reason(live_server, service_token, mode):
    """2025-11-25 (SEP-1303): the model reads why its arguments were refused and can correct them."""
    result = run(_call, live_server.mcp_url, service_token, mode, "echo", {"repeat_count": 99})
    assert result.is_error is True
    assert "arguments: 'message' is a required property" in result.content[0].text


def test_token_without_tools_scope_gets_403(http, live_server):
    token = client_credentials(http, scope="mcp:read").json()["access_token"]
    response = httpx.post(
        live_server.mcp_url,
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": "x"}},
        },
        headers={
            "Authorization": f"Bearer {token}",
            "MCP-Protocol-Version": "2025-11-25",
            "Accept": "application/json, text/event-stream",
        },
    )
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert 'scope="mcp:tools"' in response.headers["WWW-Authenticate"]


def test_unauthenticated_request_points_at_the_metadata(http, live_server):
    response = http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert f'resource_metadata="{live_server.url}/.well-known/oauth-protected-resource/mcp"' in challenge
    metadata = http.get("/.well-known/oauth-protected-resource/mcp").json()
    assert metadata["resource"] == live_server.mcp_url
    assert metadata["authorization_servers"] == [live_server.url]


def test_revoked_token_is_refused_by_every_worker(http, live_server, service_token):
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Authorization": f"Bearer {service_token}", "MCP-Protocol-Version": "2025-11-25"}
    for _ in range(8):  # warm the per-process verification caches of both workers
        assert http.post("/mcp", json=body, headers=headers).status_code == 200
    revoked = http.post(
        "/oauth/revoke/", data={"token": service_token}, auth=("demo-service", "demo-service-secret")
    )
    assert revoked.status_code == 200
    for _ in range(8):
        assert http.post("/mcp", json=body, headers=headers).status_code == 401


def test_a_token_revoked_by_another_process_is_refused_on_the_next_request(http, live_server, service_token):
    """A revocation written outside the serving processes (a management command here) reaches every
    worker at once, through the ``revocations`` change feed (the slots file beside SQLite; Redis's
    PUBLISH on PostgreSQL + Redis)."""
    import hashlib

    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Authorization": f"Bearer {service_token}", "MCP-Protocol-Version": "2025-11-25"}
    for _ in range(8):  # both workers remember the token as verified and not revoked
        assert http.post("/mcp", json=body, headers=headers).status_code == 200
    checksum = hashlib.sha256(service_token.encode()).hexdigest()
    out = live_server.manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from oauth2_provider.models import get_access_token_model as m; "
        f"m().objects.get(token_checksum={checksum!r}).revoke(); print('revoked')",
    ).stdout
    assert out.strip().splitlines()[-1] == "revoked"
    for _ in range(8):
        assert http.post("/mcp", json=body, headers=headers).status_code == 401


def test_audit_records_reach_the_database(live_server, service_token):
    run(_call, live_server.mcp_url, service_token, "auto", "echo", {"message": "audited"})
    out = ""
    for _ in range(50):
        out = live_server.manage(
            "shell",
            "-v",
            "0",
            "-c",
            "from mcpserver.models import AuditRecord as A; "
            "print(A.objects.filter(name='echo', client_id='demo-service').count())",
        ).stdout
        out = (out.strip().splitlines() or ["0"])[-1]
        if out != "0":
            break
        anyio.run(anyio.sleep, 0.1)
    assert int(out) >= 1


ECHO_KEPT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "echo", "arguments": {"message": "kept"}},
}


def _service_token(server) -> str:
    return httpx.post(
        server.url + "/oauth/token/",
        data={"grant_type": "client_credentials"},
        auth=("demo-service", "demo-service-secret"),
    ).json()["access_token"]


def _echo_records(server) -> int:
    """How many ``echo`` audit records the server's database holds."""
    script = "from mcpserver.models import AuditRecord as A; print(A.objects.filter(name='echo').count())"
    return int(server.manage("shell", "-v", "0", "-c", script).stdout.strip().splitlines()[-1])


def test_no_audit_record_is_lost_on_a_graceful_shutdown(tmp_path):
    """Records still buffered in the workers are written when the server (the serving command's:
    granian by default, gunicorn with ``E2E_WSGI_SERVER``) stops them gracefully."""
    from .liveserver import LiveServer

    server = LiveServer(env={"MCP_AUDIT_FLUSH_SECONDS": "3600"}, access_log=False)
    server.start()
    try:
        headers = {"Authorization": f"Bearer {_service_token(server)}"}
        for _ in range(20):
            assert httpx.post(server.mcp_url, json=ECHO_KEPT, headers=headers).status_code == 200
        server._terminate()  # SIGTERM: the server's graceful shutdown
        assert _echo_records(server) == 20
    finally:
        server.stop()


def test_no_audit_record_is_lost_when_a_worker_is_killed():
    """A worker killed outright (SIGKILL, as the out-of-memory killer does) never writes its buffer:
    its records wait in its spool file, and the next worker writes them, once."""
    import os
    import signal
    import time

    from .liveserver import LiveServer

    server = LiveServer(env={"MCP_AUDIT_FLUSH_SECONDS": "3600"}, access_log=False, workers=1)
    server.start()
    try:
        headers = {"Authorization": f"Bearer {_service_token(server)}"}
        for _ in range(20):
            assert httpx.post(server.mcp_url, json=ECHO_KEPT, headers=headers).status_code == 200
        (worker,) = server.worker_pids()
        os.kill(worker, signal.SIGKILL)
        server.restart(MCP_AUDIT_FLUSH_SECONDS="0.2")
        assert _echo_records(server) == 0  # the killed worker wrote nothing
        assert httpx.post(server.mcp_url, json=ECHO_KEPT, headers=headers).status_code == 200  # a new worker
        deadline = time.monotonic() + 30
        while (written := _echo_records(server)) < 21 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert written == 21
        time.sleep(1)
        assert _echo_records(server) == 21  # and only once
    finally:
        server.stop()


def _stream_request(token: str, steps: int, interval_ms: int) -> dict:
    return {
        "json": {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "tools/call",
            "params": {
                "name": "long_task",
                "arguments": {"steps": steps, "interval_ms": interval_ms},
                "_meta": {"progressToken": "p"},
            },
        },
        "headers": {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-11-25",
        },
    }


def test_progress_streams_for_real_through_the_serving_command(live_server, service_token):
    """Each notification reaches the client as the tool yields it, not when the response ends.

    The tool sleeps a whole interval between two notifications, so streamed ones arrive at least
    that far apart however slow the machine; a buffered response would deliver them together. Only
    the spacing is measured (a lower bound), never how soon the first one comes."""
    import time

    interval = 1.0
    arrivals = []
    with httpx.stream(
        "POST", live_server.mcp_url, timeout=30, **_stream_request(service_token, 3, int(interval * 1000))
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        for line in response.iter_lines():
            if line.startswith("data: ") and '"notifications/message"' not in line:
                arrivals.append(time.monotonic())
    assert len(arrivals) == 4  # three progress notifications, then the result
    # Progress 1 and 3 are two sleeps (2 s) apart: the bound leaves one for the client reading late.
    assert arrivals[2] - arrivals[0] > interval


def test_closing_the_stream_cancels_the_tool(live_server, service_token):
    import time

    with httpx.stream(
        "POST", live_server.mcp_url, timeout=30, **_stream_request(service_token, 50, 100)
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                break  # leave after the first notification: the connection closes
    script = (
        "from mcpserver.models import AuditRecord as A; "
        "print(A.objects.filter(name='long_task', outcome='cancelled').count())"
    )
    count = "0"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and count == "0":
        time.sleep(0.5)
        count = live_server.manage("shell", "-v", "0", "-c", script).stdout.strip().splitlines()[-1]
    assert int(count) >= 1


def test_jwks_url_key_source():
    """The resource server can verify with keys fetched over HTTP (as for an external issuer)."""
    from .liveserver import LiveServer

    server = LiveServer()
    server.extra_env["MCP_KEY_SOURCE"] = server.url + "/.well-known/jwks.json"
    server.start()
    try:
        token = httpx.post(
            server.url + "/oauth/token/",
            data={"grant_type": "client_credentials"},
            auth=("demo-service", "demo-service-secret"),
        ).json()["access_token"]
        response = httpx.post(
            server.mcp_url,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "whoami", "arguments": {}},
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["result"]["structuredContent"]["client_id"] == "demo-service"
        server.wait_for_log("/.well-known/jwks.json")  # fetched over HTTP, not in-process
    finally:
        server.stop()

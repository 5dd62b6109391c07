"""The operational endpoints through the production serving command, with several worker processes."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tests.e2e.liveserver import LiveServer


@pytest.fixture(scope="module")
def server():
    with LiveServer(workers=2, threads=2) as live:
        yield live


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from the Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        metric, _, value = line.rpartition(" ")
        base, _, raw = metric.partition("{")
        if base == name and ",".join(sorted(raw.rstrip("}").split(","))) == wanted:
            return float(value)
    return 0.0


def test_metrics_add_up_over_every_worker(server):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for _ in range(60):  # new connections: the kernel spreads them over both workers
            assert httpx.get(server.url + "/health").status_code == 200
        token = http.post(
            "/oauth/token/",
            data={"grant_type": "client_credentials"},
            auth=("demo-service", "demo-service-secret"),
        ).json()["access_token"]
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": "m"}},
        }
        for _ in range(3):
            response = http.post("/mcp", json=body, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200
        assert http.post("/mcp", json=body).status_code == 401
        text = http.get("/metrics").text
    assert sample(text, "http_requests_total", route="health", method="GET", status="200") == 60
    assert sample(text, "http_request_duration_seconds_count", route="health") == 60
    assert sample(text, "oauth_tokens_issued_total", grant="client_credentials") == 1
    assert sample(text, "mcp_tool_calls_total", tool="echo", outcome="ok") == 3
    assert sample(text, "auth_failures_total", reason="missing_token") == 1
    served_by = set(re.findall(r"^# Multiprocess|pid", text))  # merged output carries no pid label
    assert "pid" not in served_by


def test_probes_and_request_ids_over_http(server):
    assert httpx.get(server.url + "/health").json() == {"status": "ok"}
    ready = httpx.get(server.url + "/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    response = httpx.get(server.url + "/health", headers={"X-Request-ID": "probe-42"})
    assert response.headers["X-Request-ID"] == "probe-42"


def test_log_lines_are_json_with_request_ids_and_no_credentials(server):
    offset = server.log_size()
    token = httpx.post(
        server.url + "/oauth/token/",
        data={"grant_type": "client_credentials"},
        auth=("demo-service", "demo-service-secret"),
        headers={"X-Request-ID": "token-req-1"},
    ).json()["access_token"]
    httpx.get(server.url + f"/ready?access_token={token}", headers={"Authorization": f"Bearer {token}"})
    httpx.get(server.url + "/health?client_secret=demo-service-secret")
    text = server.wait_for_log('"path":"/oauth/token/"', '"path":"/ready"', '"path":"/health"', since=offset)
    assert token not in text and "demo-service-secret" not in text and "ZGVtby1zZXJ2aWNl" not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "observability.access"]
    assert {line["path"] for line in access} >= {"/oauth/token/", "/ready", "/health"}
    assert all(len(line["request_id"]) >= 8 for line in access)
    assert any(line["request_id"] == "token-req-1" and line["route"] == "oauth/token/" for line in access)


def test_a_graceful_shutdown_writes_the_log_lines_still_buffered():
    """With a long flush interval nothing is written while serving; SIGTERM makes each worker write
    what it holds before it exits (granian's workers leave through os._exit, past atexit)."""
    with LiveServer(workers=2, threads=2, env={"LOG_FLUSH_SECONDS": "60"}) as live:
        offset = live.log_size()
        for n in range(20):  # new connections, so both workers answer some
            response = httpx.get(live.url + "/health", headers={"X-Request-ID": f"before-stop-{n}"})
            assert response.status_code == 200
        assert '"request_id":"before-stop-' not in live.log_text(offset)  # buffered, not yet written
        live.restart()
        text = live.log_text(offset)
        written = set(re.findall(r'"request_id":"(before-stop-\d+)"', text))
        assert written == {f"before-stop-{n}" for n in range(20)}

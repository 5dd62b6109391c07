"""Denial of service through /mcp: one caller's flood leaves everybody else answered, and a client that
leaves a long call on the JSON path stops its work."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

pytestmark = pytest.mark.usefixtures("no_server_errors")

NORMAL = 2.0  # seconds: a generous bound on /health and a tools/call echo (both answer in ms when idle)


def tool_call(name: str, arguments: dict, request_id: int = 1) -> dict:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


def audited(server, outcome: str) -> list[float]:
    """The durations (ms) of the long_task calls audited with ``outcome``."""
    script = (
        "from mcpserver.models import AuditRecord as A; "
        f"print([r.duration_ms for r in A.objects.filter(name='long_task', outcome='{outcome}')])"
    )
    return eval(server.manage("shell", "-v", "0", "-c", script).stdout.strip().splitlines()[-1])  # noqa: S307


def test_a_flood_from_one_token_leaves_health_and_other_users_answered(live_server):
    """More concurrent long calls from alice than the server has threads, retried as soon as refused."""
    alice = live_server.issue_token("alice", ["mcp:read", "mcp:tools"])
    bob = live_server.issue_token("bob", ["mcp:read", "mcp:tools"])
    stop, statuses, refusals = threading.Event(), [], []
    flood_body = tool_call("long_task", {"steps": 20, "interval_ms": 500})

    def flood() -> None:
        with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {alice}"}) as client:
            while not stop.is_set():
                response = client.post(live_server.mcp_url, json=flood_body)
                statuses.append(response.status_code)
                if response.status_code == 429:
                    refusals.append(response)
                    time.sleep(0.05)  # a rude client: it ignores Retry-After

    threads = [threading.Thread(target=flood) for _ in range(4 * live_server.workers * live_server.threads)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)  # every thread of every worker would be taken by now
        latencies = []
        with httpx.Client(timeout=60) as client:
            for i in range(5):
                started = time.monotonic()
                health = client.get(live_server.url + "/health")
                latencies.append(("health", time.monotonic() - started, health.status_code))
                started = time.monotonic()
                echo = client.post(
                    live_server.mcp_url,
                    json=tool_call("echo", {"message": f"bob {i}"}),
                    headers={"Authorization": f"Bearer {bob}"},
                )
                latencies.append(("echo", time.monotonic() - started, echo.status_code))
                assert echo.json()["result"]["content"][0]["text"] == f"bob {i}"
                time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert all(status == 200 for _, _, status in latencies), latencies
    assert max(seconds for _, seconds, _ in latencies) < NORMAL, latencies
    assert refusals, statuses
    refused = refusals[0]
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == -32029 and refused.json()["id"] is None


def test_a_client_leaving_a_long_json_call_cancels_it(live_server):
    """No SSE: the answer is application/json, and the call still stops soon after the client left."""
    token = live_server.issue_token("alice", ["mcp:read", "mcp:tools"])
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    body = tool_call("long_task", {"steps": 20, "interval_ms": 500})  # 10 s if nobody stops it
    before = len(audited(live_server, "cancelled"))
    started = time.monotonic()
    with httpx.stream("POST", live_server.mcp_url, json=body, headers=headers, timeout=30) as response:
        assert response.headers["content-type"] == "application/json"
        for chunk in response.iter_raw():
            assert chunk.strip() == b""  # whitespace while the tool works
            if time.monotonic() - started > 1.5:
                break  # leave: the unread response's connection is closed
    durations = []
    while time.monotonic() - started < 8 and len(durations) <= before:
        time.sleep(0.5)
        durations = audited(live_server, "cancelled")
    assert len(durations) > before, "the call was not cancelled"
    assert durations[0] < 6000  # newest first: this call's record
    assert time.monotonic() - started < 9  # recorded well before the 10 s the call would have taken


def test_a_finished_long_json_call_is_plain_json(live_server):
    token = live_server.issue_token("alice", ["mcp:read", "mcp:tools"])
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    response = httpx.post(
        live_server.mcp_url,
        json=tool_call("long_task", {"steps": 3, "interval_ms": 300}),
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["result"]["content"][0]["text"] == "Finished 3 steps."

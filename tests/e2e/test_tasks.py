"""Tasks against the live server with a real task worker process (``manage.py db_worker``, as
``dev.py serve`` runs it): a handle at once, polled to its result from another instance, input through
``tasks/update``, cancellation, another user's task, a revoked token, and a task that survives a
restart of the instance that started it (and of the worker)."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from . import flows
from .liveserver import LiveServer, with_worker_suffix

MODERN = "2026-07-28"
EXTENSION = "io.modelcontextprotocol/tasks"
CAPS = {"elicitation": {}, "extensions": {EXTENSION: {}}}
SCOPES = ["mcp:read", "mcp:tools"]


@pytest.fixture(scope="module")
def server():
    """A server and its task worker of its own (restarted by a test), on the e2e database and cache."""
    database_url = os.environ.get("E2E_DATABASE_URL")
    live = LiveServer(
        database_url=with_worker_suffix(database_url + "_tasks") if database_url else None,
        redis_url=os.environ.get("E2E_REDIS_URL") or os.environ.get("REDIS_URL") or None,
        env={"MCP_FIXTURE_PACK": "true"},
        task_worker=True,
        workers=1,
    )
    live.start()
    yield live
    live.stop()


def rpc(url: str, token: str, method: str, params: dict, caps: dict = CAPS) -> dict:
    name = params.get("name") if method == "tools/call" else params.get("taskId")
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": method,
        **({"Mcp-Name": name} if name else {}),
    }
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": caps,
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}}
    return httpx.post(url + "/mcp", json=body, headers=headers, timeout=30).json()


def poll(url: str, token: str, task_id: str, until=("completed", "failed", "cancelled"), timeout=20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        task = rpc(url, token, "tasks/get", {"taskId": task_id})["result"]
        if task["status"] in until or time.monotonic() > deadline:
            return task
        time.sleep(0.2)


def test_the_worker_runs_a_task_that_any_instance_can_poll(server):
    token = server.issue_token("alice", SCOPES)
    arguments = {"steps": 3, "interval_ms": 300}
    created = rpc(server.url, token, "tools/call", {"name": "long_task", "arguments": arguments})
    assert created["result"]["resultType"] == "task"
    task_id = created["result"]["taskId"]
    peer = server.peer().start()
    try:
        done = poll(peer.url, token, task_id)  # polled on another instance of the deployment
    finally:
        peer.stop()
    assert done["status"] == "completed"
    assert done["result"]["content"][0]["text"] == "Finished 3 steps."
    assert server.errors_since(0) == []


def test_input_and_cancellation_through_the_worker(server):
    token = server.issue_token("alice", SCOPES)
    asked = rpc(server.url, token, "tools/call", {"name": "confirm_delete", "arguments": {"filename": "x"}})
    task_id = asked["result"]["taskId"]
    waiting = poll(server.url, token, task_id, until=("input_required",))
    (key,) = waiting["inputRequests"]
    answer = {key: {"action": "accept", "content": {"confirm": True}}}
    rpc(server.url, token, "tasks/update", {"taskId": task_id, "inputResponses": answer})
    assert poll(server.url, token, task_id)["result"]["content"][0]["text"] == "Deleted x."

    slow = rpc(server.url, token, "tools/call", {"name": "slow_compute", "arguments": {"seconds": 60}})
    slow_id = slow["result"]["taskId"]
    time.sleep(1)  # the worker has started it
    assert rpc(server.url, token, "tasks/cancel", {"taskId": slow_id})["result"] == {"resultType": "complete"}
    assert poll(server.url, token, slow_id)["status"] == "cancelled"
    # The worker left the 60 s task within a step: it runs the next task at once.
    quick = rpc(server.url, token, "tools/call", {"name": "slow_compute", "arguments": {"seconds": 0.2}})
    assert poll(server.url, token, quick["result"]["taskId"], timeout=5)["status"] == "completed"


def test_only_the_caller_sees_a_task_and_a_revoked_token_stops_it(server):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        service = flows.client_credentials(http, scope="mcp:read mcp:tools").json()["access_token"]
        slow = {"name": "slow_compute", "arguments": {"seconds": 30}}
        created = rpc(server.url, service, "tools/call", slow)
        task_id = created["result"]["taskId"]
        alice = server.issue_token("alice", SCOPES)
        assert rpc(server.url, alice, "tasks/get", {"taskId": task_id})["error"]["code"] == -32602
        assert rpc(server.url, alice, "tasks/cancel", {"taskId": task_id})["error"]["code"] == -32602
        assert rpc(server.url, service, "tasks/get", {"taskId": task_id})["result"]["status"] == "working"
        assert http.post("/oauth/revoke/", data={"token": service}, auth=flows.SERVICE).status_code == 200
        fresh = flows.client_credentials(http, scope="mcp:read mcp:tools").json()["access_token"]
    # The same client, a new token: the task its revoked token started is gone, and its work stopped.
    assert rpc(server.url, fresh, "tasks/get", {"taskId": task_id})["error"]["code"] == -32602
    assert server.manage("shell", "-c", EXISTS.format(task_id)).stdout.splitlines()[-1] == "False"


EXISTS = "from mcpserver.models import McpTask; print(McpTask.objects.filter(id={!r}).exists())"


def test_a_task_survives_a_restart_of_the_server_and_the_worker(server):
    token = server.issue_token("alice", SCOPES, lifetime=600)
    server.stop_worker()  # no worker for now: the task waits in the queue
    created = rpc(server.url, token, "tools/call", {"name": "slow_compute", "arguments": {"seconds": 0.5}})
    task_id = created["result"]["taskId"]
    server.restart()  # the instance that started it goes away
    assert rpc(server.url, token, "tasks/get", {"taskId": task_id})["result"]["status"] == "working"
    server.start_worker()
    done = poll(server.url, token, task_id)
    assert done["status"] == "completed" and done["result"]["content"][0]["text"].startswith("Computed")
    server.restart()  # the result outlives another restart
    assert rpc(server.url, token, "tasks/get", {"taskId": task_id})["result"]["result"] == done["result"]

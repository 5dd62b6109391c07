"""Faults while MCP tasks run: Redis dies and comes back empty mid-task, the task worker is killed.

One live server and its task worker (``manage.py db_worker``) run on a private Redis and a private
PostgreSQL cluster (``services``), as in ``test_faults.py``, so that killing them disturbs nobody
else's tests. ``MCP_TASK_TIMEOUT_SECONDS`` is small, so that a run's deadline comes within the test.

What must hold:

- Redis gone during a task: the task goes on (its row, its progress and its result live in the
  database); ``tasks/get`` and new task calls keep working during the outage, as tool calls do
  (``docs/operations.md``: revocations are then checked in the database), fast and never with a 500;
  once Redis is back, empty, the result is there, on this instance and on a second one;
- the worker killed mid-task: the task is not stuck ``working`` for ever; once its run's deadline
  (``MCP_TASK_TIMEOUT_SECONDS``) and a grace (``store.OVERDUE_GRACE_SECONDS``) have passed it is
  ``failed`` with a JSON-RPC error saying so, and it is never run twice (a new worker runs new tasks).
"""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from mcpserver.tasks.store import OVERDUE_GRACE_SECONDS

from . import services
from .liveserver import LiveServer
from .test_faults import FAST

pytestmark = pytest.mark.slow  # its own servers and services: run once per CI run (.ci/run)

MODERN = "2026-07-28"
CAPS = {"extensions": {"io.modelcontextprotocol/tasks": {}}}
SCOPES = ["mcp:read", "mcp:tools"]
TIMEOUT = 6  # MCP_TASK_TIMEOUT_SECONDS: the longest a run may take
FINISHED = ("completed", "failed", "cancelled")


@pytest.fixture(scope="module")
def stack(request):
    """A private Redis, a private PostgreSQL, and one live server with a task worker on both."""
    reason = services.available()
    if reason:
        pytest.skip(f"fault tests need private Redis and PostgreSQL servers: {reason}")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    redis, postgres = services.PrivateRedis().start(), services.PrivatePostgres().start()
    server = LiveServer(
        database_url=postgres.database_url("task_faults"),
        redis_url=redis.url,
        workers=1,
        task_worker=True,
        env={"LOG_FORMAT": "text", "MCP_TASK_TIMEOUT_SECONDS": str(TIMEOUT)},
    )
    failed = request.session.testsfailed
    try:
        server.start()
        yield redis, server
    finally:
        keep = request.session.testsfailed > failed
        if keep:
            print(f"\nkept the task fault tests' logs: {server.log_path}, {server.worker_log_path}")
        try:
            server.stop(keep_files=keep)
        finally:
            redis.close()
            postgres.close()


@pytest.fixture
def redis(stack) -> services.PrivateRedis:
    return stack[0]


@pytest.fixture
def server(stack) -> LiveServer:
    return stack[1]


def worker_log(server: LiveServer) -> str:
    return server.worker_log_path.read_text() if server.worker_log_path.exists() else ""


@pytest.fixture(autouse=True)
def _no_500(server):
    """Nothing answers 500, and the worker logs no error (an outage is a warning: it is expected)."""
    offset, worker_offset = server.log_size(), len(worker_log(server))
    yield
    assert server.errors_since(offset) == []
    errors = [line for line in worker_log(server)[worker_offset:].splitlines() if " ERROR " in line]
    assert not errors, errors


def rpc(url: str, token: str, method: str, params: dict) -> httpx.Response:
    """A 2026-07-28 request declaring the tasks extension in its per-request capabilities."""
    name = params.get("name") or params.get("taskId")
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": method,
        "Mcp-Name": name,
    }
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": CAPS,
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}}
    return httpx.post(url + "/mcp", json=body, headers=headers, timeout=FAST * 3)


def start_task(server: LiveServer, token: str, arguments: dict) -> str:
    response = rpc(server.url, token, "tools/call", {"name": "long_task", "arguments": arguments})
    assert response.status_code == 200, response.text
    created = response.json()["result"]
    assert created["resultType"] == "task" and created["status"] == "working", created
    return created["taskId"]


def get(url: str, token: str, task_id: str) -> dict:
    response = rpc(url, token, "tasks/get", {"taskId": task_id})
    assert response.status_code == 200, response.text
    return response.json()["result"]


def wait_until(url: str, token: str, task_id: str, done, timeout: float) -> dict:
    """Poll ``tasks/get`` until ``done(task)`` holds; the last answer either way."""
    deadline = time.monotonic() + timeout
    while True:
        task = get(url, token, task_id)
        if done(task) or time.monotonic() > deadline:
            return task
        time.sleep(0.2)


def running(task: dict) -> bool:
    """Past its first step: a worker runs it."""
    return task["status"] != "working" or task.get("statusMessage", "").startswith("Step")


def finished(task: dict) -> bool:
    return task["status"] in FINISHED


def step(task: dict) -> int:
    message = task.get("statusMessage", "")
    return int(message.split()[1]) if message.startswith("Step") else 0


# --- Redis ---


def test_a_redis_restart_during_a_task_loses_nothing(redis, server):
    token = server.issue_token("alice", SCOPES, lifetime=600)
    task_id = start_task(server, token, {"steps": 10, "interval_ms": 450})
    assert running(wait_until(server.url, token, task_id, running, timeout=10))

    redis.stop()
    answers: list[tuple[int, float, dict]] = []
    try:
        outage_end = time.monotonic() + 2
        while time.monotonic() < outage_end:
            started = time.monotonic()
            response = rpc(server.url, token, "tasks/get", {"taskId": task_id})
            answers.append((response.status_code, time.monotonic() - started, response.json()))
            time.sleep(0.1)
        # A new task can be started during the outage too, as any tool call.
        during = start_task(server, token, {"steps": 2, "interval_ms": 100})
    finally:
        redis.start()  # empty
    slow = [(status, round(seconds, 2)) for status, seconds, _ in answers if seconds > FAST]
    assert not slow, slow
    assert {status for status, _, _ in answers} == {200}, answers[:3]
    # The worker went on during the outage: its progress reached the task's row.
    steps = [step(body["result"]) for _, _, body in answers if body["result"]["status"] == "working"]
    assert steps == sorted(steps) and len(set(steps)) >= 2, steps

    done = wait_until(server.url, token, task_id, finished, timeout=20)
    assert done["status"] == "completed", done
    assert done["result"]["content"][0]["text"] == "Finished 10 steps."
    quick = wait_until(server.url, token, during, finished, timeout=20)
    assert quick["status"] == "completed" and quick["result"]["content"][0]["text"] == "Finished 2 steps."

    # A second instance of the deployment (no worker of its own) reads the same results.
    peer = server.peer()
    peer.task_worker = False
    peer.start()
    try:
        assert get(peer.url, token, task_id) == get(server.url, token, task_id)
        assert get(peer.url, token, during)["result"] == quick["result"]
        assert peer.errors_since(0) == []
    finally:
        peer.stop()


# --- the worker ---


def test_a_task_whose_worker_was_killed_fails_once_its_run_is_overdue(server):
    token = server.issue_token("alice", SCOPES, lifetime=600)
    task_id = start_task(server, token, {"steps": 10, "interval_ms": 1000})  # longer than TIMEOUT
    assert running(wait_until(server.url, token, task_id, running, timeout=10))
    killed = time.monotonic()
    server.kill_worker()
    server.start_worker()  # a new worker: it does not run the interrupted task again

    # Still working while its run may still be going; nobody moves it on.
    assert get(server.url, token, task_id)["status"] == "working"
    task = wait_until(server.url, token, task_id, finished, timeout=TIMEOUT + OVERDUE_GRACE_SECONDS + 10)
    waited = time.monotonic() - killed
    assert task["status"] == "failed", task
    assert task["error"]["code"] == -32603
    assert "did not finish" in task["error"]["message"], task["error"]
    assert "result" not in task
    assert waited < TIMEOUT + OVERDUE_GRACE_SECONDS + 3, waited
    assert waited > OVERDUE_GRACE_SECONDS, waited  # not before its deadline and the grace
    assert get(server.url, token, task_id)["status"] == "failed"  # and it stays so

    # The new worker runs new tasks, and leaves the failed one alone.
    quick = start_task(server, token, {"steps": 2, "interval_ms": 100})
    assert wait_until(server.url, token, quick, finished, timeout=15)["status"] == "completed"
    assert get(server.url, token, task_id)["status"] == "failed"

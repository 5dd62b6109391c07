"""Tasks (the ``io.modelcontextprotocol/tasks`` extension) through ``/mcp`` (the production WSGI
application) and the django-tasks database worker's own loop, run in-process here (``work()``; the
e2e tests run ``manage.py db_worker`` as a process): creation, polling, input through
``tasks/update``, cancellation, failures, who may see a task, revocation, retention and the audit trail."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from mcpserver import audit
from mcpserver.models import AuditRecord, McpTask
from mcpserver.registry import Registry
from mcpserver.tasks import EXTENSION

from .conftest import CAPS_KEY

pytestmark = pytest.mark.django_db

TASKS = {"elicitation": {}, "extensions": {EXTENSION: {}}}


@pytest.fixture(autouse=True)
def task_tools():
    app = apps.get_app_config("mcpserver")
    original = app.registry
    registry = Registry()
    for module in ("mcpserver.tools", "tests.mcpserver.task_capabilities"):
        registry.register_module(module)
    app.registry = registry
    yield registry
    app.registry = original


def work() -> None:
    """Run every queued task with django-tasks-db's own worker loop (batch mode, no signal handlers).
    Its connection housekeeping (``close_old_connections``, which would end the test's transaction on
    PostgreSQL) is left out, as Django's test client leaves it out of requests."""
    from unittest import mock

    from django_tasks_db.management.commands import db_worker

    worker = db_worker.Worker(
        queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
        max_tasks=None, worker_id="tests", excluded_queue_names=[],
    )  # fmt: skip
    with mock.patch.object(db_worker, "close_old_connections", lambda: None):
        worker.run()


def send(mcp, method, params, caps=TASKS, token=None, headers=None, status=200):
    mirrored = {"Mcp-Name": params["taskId"]} if "taskId" in params else {}
    headers = {**mirrored, **(headers or {})}
    response = mcp.modern(method, params, meta={CAPS_KEY: caps}, token=token, headers=headers)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == status, body
    return json.loads(body)


def call(mcp, name, arguments=None, caps=TASKS, **kwargs):
    return send(mcp, "tools/call", {"name": name, "arguments": arguments or {}}, caps, **kwargs)


def get(mcp, task_id, **kwargs):
    return send(mcp, "tasks/get", {"taskId": task_id}, **kwargs)


def started(mcp, name, arguments=None) -> str:
    created = call(mcp, name, arguments)["result"]
    assert created["resultType"] == "task", created
    return created["taskId"]


def trail(kind: str) -> list[tuple[str, str, str]]:
    audit.flush()
    return [(r.name, r.outcome, r.detail) for r in AuditRecord.objects.filter(kind=kind).order_by("id")]


# --- creation, polling, the result ---


def test_a_task_tool_answers_a_handle_and_the_worker_completes_it(mcp):
    created = call(mcp, "add", {"a": 2, "b": 3})["result"]
    assert created["resultType"] == "task" and created["status"] == "working"
    assert set(created) == {
        "taskId", "status", "createdAt", "lastUpdatedAt", "ttlMs", "pollIntervalMs", "resultType",
    }  # fmt: skip
    assert created["createdAt"].endswith("Z") and created["ttlMs"] > 0 and created["pollIntervalMs"] == 500
    polled = get(mcp, created["taskId"])["result"]
    assert polled["status"] == "working" and "result" not in polled and polled["resultType"] == "complete"
    work()
    done = get(mcp, created["taskId"])["result"]
    assert done["status"] == "completed"
    assert done["result"]["content"][0]["text"].startswith("5 (for user-")  # ran as the caller
    task_id = created["taskId"]
    assert trail("tool") == [("add", "task", f"task {task_id}")]
    assert trail("task") == [("add", "ok", f"task {task_id}: completed")]


def test_the_extension_is_offered_in_discover_only(mcp):
    caps = send(mcp, "server/discover", {})["result"]["capabilities"]
    assert caps["extensions"] == {EXTENSION: {}} and "tasks" not in caps
    legacy = mcp.initialize().json()["result"]["capabilities"]
    assert "extensions" not in legacy


def test_without_the_extension_an_optional_task_tool_answers_in_the_request(mcp):
    result = call(mcp, "add", {"a": 1, "b": 1}, caps={})["result"]
    assert result["resultType"] == "complete" and result["content"][0]["text"].startswith("2 ")
    assert not McpTask.objects.exists()


def test_without_the_extension_a_required_task_tool_is_refused_before_it_runs(mcp):
    error = call(mcp, "steps", caps={}, status=400)["error"]
    assert error["code"] == -32021
    assert error["data"] == {"requiredCapabilities": {"extensions": {EXTENSION: {}}}}
    assert not McpTask.objects.exists()


@pytest.mark.parametrize("method", ["tasks/get", "tasks/update", "tasks/cancel"])
def test_task_methods_need_the_extension(mcp, method):
    error = send(mcp, method, {"taskId": "x", "inputResponses": {}}, caps={}, status=400)["error"]
    assert error["code"] == -32021


def test_removed_methods_are_unknown(mcp):
    assert send(mcp, "tasks/result", {"taskId": "x"}, status=404)["error"]["code"] == -32601
    assert send(mcp, "tasks/list", {}, status=404)["error"]["code"] == -32601


def test_the_mcp_name_header_must_name_the_task(mcp):
    task_id = started(mcp, "add", {"a": 1, "b": 2})
    error = send(mcp, "tasks/get", {"taskId": task_id}, headers={"Mcp-Name": "another"}, status=400)["error"]
    assert error["code"] == -32020


def test_a_plain_tool_ignores_a_legacy_task_hint(mcp):
    result = send(mcp, "tools/call", {"name": "plain", "arguments": {}, "task": {"ttl": 1000}})["result"]
    assert result["resultType"] == "complete" and "taskId" not in result


def test_progress_messages_become_the_status_message(mcp, monkeypatch):
    from mcpserver.tasks import runner

    monkeypatch.setattr(runner, "CANCEL_CHECK_SECONDS", 0)
    task_id = started(mcp, "steps", {"count": 2})
    work()
    done = get(mcp, task_id)["result"]
    assert done["status"] == "completed" and done["statusMessage"] == "step 2"
    assert done["result"]["content"][0]["text"] == "2 steps"


# --- failures ---


def test_a_tool_error_completes_the_task_with_is_error(mcp):
    task_id = started(mcp, "refusing")
    work()
    done = get(mcp, task_id)["result"]
    assert done["status"] == "completed" and done["result"]["isError"] is True and "error" not in done
    assert trail("task") == [("refusing", "error", "")]


def test_a_crash_fails_the_task_with_an_internal_error_and_no_result(mcp):
    task_id = started(mcp, "broken")
    work()
    failed = get(mcp, task_id)["result"]
    assert failed["status"] == "failed" and "result" not in failed
    assert failed["error"] == {"code": -32603, "message": "Internal error"}  # the exception is not told


def test_a_json_rpc_error_a_tool_raises_fails_the_task_with_that_error(mcp):
    task_id = started(mcp, "protocol_error")
    work()
    assert get(mcp, task_id)["result"]["error"] == {"code": -32602, "message": "that is not a thing"}


# --- a run that never ends (its worker killed) ---


def begun_and_abandoned(mcp, name: str, arguments: dict, overdue: bool) -> str:
    """A task a worker began (``store.begin``, as ``run_task`` does) and never finished, as when the
    worker is killed mid-run; ``overdue``: its deadline and the grace have passed since."""
    from mcpserver.tasks import store

    task_id = started(mcp, name, arguments)
    assert store.begin(task_id)
    if overdue:
        late = timezone.now() - timedelta(seconds=store.OVERDUE_GRACE_SECONDS + 1)
        McpTask.objects.filter(id=task_id).update(run_deadline=late)
    return task_id


def test_a_run_that_never_ended_fails_the_task_once_overdue_and_is_never_run_again(mcp):
    from mcpserver.tasks import store

    going = begun_and_abandoned(mcp, "add", {"a": 1, "b": 1}, overdue=False)
    assert get(mcp, going)["result"]["status"] == "working"  # its run may still be under way
    task_id = begun_and_abandoned(mcp, "add", {"a": 2, "b": 3}, overdue=True)
    failed = get(mcp, task_id)["result"]
    assert failed["status"] == "failed" and "result" not in failed
    assert failed["error"] == store.OVERDUE
    assert trail("task") == [("add", "timeout", f"task {task_id}: run overdue")]
    assert McpTask.objects.get(id=task_id).run_deadline is None
    work()  # their queued jobs, as if the killed worker's were retried: neither task runs again
    assert get(mcp, task_id)["result"] == failed
    assert get(mcp, going)["result"]["status"] == "working"
    assert trail("task") == [("add", "timeout", f"task {task_id}: run overdue")]


def test_the_worker_and_prune_tasks_fail_overdue_runs_nobody_polls(mcp):
    quiet = begun_and_abandoned(mcp, "add", {"a": 1, "b": 1}, overdue=True)
    call_command("prune_tasks", stdout=open("/dev/null", "w"))
    assert McpTask.objects.get(id=quiet).status == "failed"
    unpolled = begun_and_abandoned(mcp, "add", {"a": 1, "b": 2}, overdue=True)
    started(mcp, "add", {"a": 2, "b": 2})
    work()  # the worker's run of any task prunes too
    assert McpTask.objects.get(id=unpolled).status == "failed"
    assert [outcome for _, outcome, _ in trail("task")].count("timeout") == 2


def test_waiting_for_a_worker_or_for_input_is_never_overdue(mcp, monkeypatch):
    from mcpserver.tasks import store

    monkeypatch.setattr(store, "OVERDUE_GRACE_SECONDS", -3600)  # any run under way would be overdue
    queued = started(mcp, "add", {"a": 1, "b": 1})
    assert get(mcp, queued)["result"]["status"] == "working"  # no worker has begun it
    asking = started(mcp, "delete_file", {"name": "a.txt"})
    work()
    assert get(mcp, asking)["result"]["status"] == "input_required"
    update = {"taskId": asking, "inputResponses": {"confirm": {"action": "accept", "content": {"ok": True}}}}
    send(mcp, "tasks/update", update)
    assert get(mcp, asking)["result"]["status"] == "working"  # the run that asked has ended
    assert McpTask.objects.get(id=asking).run_deadline is None


def test_a_run_sets_its_deadline_from_the_timeout(mcp, settings):
    from mcpserver.tasks import store

    settings.MCPSERVER = {**settings.MCPSERVER, "TASK_TIMEOUT_SECONDS": 30}
    task_id = started(mcp, "add", {"a": 1, "b": 1})
    before = timezone.now()
    assert store.begin(task_id)
    deadline = McpTask.objects.get(id=task_id).run_deadline
    assert 29 <= (deadline - before).total_seconds() <= 31
    McpTask.objects.filter(id=task_id).update(status="cancelled")
    assert not store.begin(task_id)  # a run of a task that no longer works does not begin


# --- input through tasks/update ---


def test_a_question_parks_the_task_until_tasks_update_answers_it(mcp):
    task_id = started(mcp, "delete_file", {"name": "a.txt"})
    work()
    waiting = get(mcp, task_id)["result"]
    assert waiting["status"] == "input_required"
    assert waiting["inputRequests"]["confirm"]["method"] == "elicitation/create"
    update = {"taskId": task_id, "inputResponses": {"confirm": {"action": "accept", "content": {"ok": True}}}}
    assert send(mcp, "tasks/update", update)["result"] == {"resultType": "complete"}
    assert get(mcp, task_id)["result"]["status"] == "working"
    work()
    done = get(mcp, task_id)["result"]
    assert done["status"] == "completed" and done["result"]["content"][0]["text"] == "deleted a.txt"
    assert [outcome for _, outcome, _ in trail("task")] == ["input_required", "ok"]


def test_an_answer_that_does_not_fit_is_asked_again(mcp):
    task_id = started(mcp, "delete_file", {"name": "b.txt"})
    work()
    wrong = {"confirm": {"action": "accept", "content": {"ok": "yes"}}}
    update = {"taskId": task_id, "inputResponses": wrong}
    send(mcp, "tasks/update", update)
    work()
    again = get(mcp, task_id)["result"]
    assert again["status"] == "input_required" and list(again["inputRequests"]) == ["confirm"]


def test_answers_may_come_one_at_a_time(mcp):
    task_id = started(mcp, "two_names")
    work()
    assert set(get(mcp, task_id)["result"]["inputRequests"]) == {"first", "second"}
    first = {"first": {"action": "accept", "content": {"name": "Ann"}}, "unknown": {"x": 1}}
    send(mcp, "tasks/update", {"taskId": task_id, "inputResponses": first})
    waiting = get(mcp, task_id)["result"]
    assert waiting["status"] == "input_required" and list(waiting["inputRequests"]) == ["second"]
    second = {"second": {"action": "accept", "content": {"name": "Bob"}}}
    send(mcp, "tasks/update", {"taskId": task_id, "inputResponses": second})
    work()
    assert get(mcp, task_id)["result"]["result"]["content"][0]["text"] == "Ann & Bob"


def test_malformed_input_responses_are_invalid_params(mcp):
    task_id = started(mcp, "delete_file", {"name": "c.txt"})
    error = send(mcp, "tasks/update", {"taskId": task_id, "inputResponses": {"confirm": 1}}, status=400)
    assert error["error"]["code"] == -32602


def test_a_tool_that_asks_first_starts_its_task_with_the_answers(mcp):
    first = call(mcp, "greet_later")["result"]
    assert first["resultType"] == "input_required" and "taskId" not in first
    retry = {
        "name": "greet_later",
        "arguments": {},
        "inputResponses": {"name": {"action": "accept", "content": {"name": "Alice"}}},
        "requestState": first["requestState"],
    }
    created = send(mcp, "tools/call", retry)["result"]
    assert created["resultType"] == "task" and "requestState" not in created
    work()
    done = get(mcp, created["taskId"])["result"]
    assert done["result"]["content"][0]["text"] == "Hello, Alice, from a task"


# --- cancellation ---


def test_cancel_is_an_empty_ack_and_the_worker_leaves_a_cancelled_task_alone(mcp):
    task_id = started(mcp, "add", {"a": 1, "b": 2})
    assert send(mcp, "tasks/cancel", {"taskId": task_id})["result"] == {"resultType": "complete"}
    work()
    cancelled = get(mcp, task_id)["result"]
    assert cancelled["status"] == "cancelled" and "result" not in cancelled
    assert send(mcp, "tasks/cancel", {"taskId": task_id})["result"] == {"resultType": "complete"}
    assert [outcome for _, outcome, _ in trail("task")] == ["cancelled"]  # once, by the cancel


def test_a_generator_tool_stops_between_steps_once_cancelled(mcp, monkeypatch):
    from mcpserver.tasks import runner, store

    task_id = started(mcp, "steps", {"count": 50})
    monkeypatch.setattr(runner, "CANCEL_CHECK_SECONDS", 0)
    real = store.still_working
    seen = []

    def cancel_after_three(task, message=None):
        seen.append(message)
        if len(seen) == 3:
            McpTask.objects.filter(id=task).update(status="cancelled")
        return real(task, message)

    monkeypatch.setattr(store, "still_working", cancel_after_three)
    work()
    assert len(seen) == 3 and get(mcp, task_id)["result"]["status"] == "cancelled"
    assert [outcome for _, outcome, _ in trail("task")] == ["cancelled"]


# --- who may see a task ---


def test_another_users_task_reads_as_unknown(mcp, issue):
    task_id = started(mcp, "add", {"a": 1, "b": 2})
    stranger = issue()
    for method in ("tasks/get", "tasks/cancel"):
        error = send(mcp, method, {"taskId": task_id}, token=stranger, status=400)["error"]
        unknown = send(mcp, method, {"taskId": "no-such-task"}, token=stranger, status=400)["error"]
        assert error["code"] == unknown["code"] == -32602
        assert error["message"] == unknown["message"].replace("no-such-task", task_id)
    assert McpTask.objects.get(id=task_id).status == "working"  # the stranger's cancel did nothing


def test_the_same_user_through_another_client_cannot_see_the_task(mcp, token, make_client):
    from authserver.models import User
    from authserver.tokens import issue_for_user

    task_id = started(mcp, "add", {"a": 1, "b": 2})
    other = make_client("other", grant="password", scopes=["mcp:read", "mcp:tools"], public=True).application
    user = User.objects.get(username=McpTask.objects.get(id=task_id).caller["username"])
    elsewhere = issue_for_user(user, other, ["mcp:read", "mcp:tools"], 300)
    assert send(mcp, "tasks/get", {"taskId": task_id}, token=elsewhere, status=400)["error"]["code"] == -32602


def test_a_revoked_token_stops_its_task_and_hides_it(mcp, client, token, application):
    from authserver.models import User
    from authserver.tokens import issue_for_user

    task_id = started(mcp, "add", {"a": 1, "b": 2})
    revoked = client.post(
        "/oauth/revoke/",
        f"token={token}&client_id={application.client_id}",
        content_type="application/x-www-form-urlencoded",
    )
    assert revoked.status_code == 200, revoked.content
    user = User.objects.get(username=McpTask.objects.get(id=task_id).caller["username"])
    fresh = issue_for_user(user, application, ["mcp:read", "mcp:tools"], 300)
    assert send(mcp, "tasks/get", {"taskId": task_id}, token=fresh, status=400)["error"]["code"] == -32602
    assert not McpTask.objects.filter(id=task_id).exists()  # withdrawn for good, not only while denied
    work()
    assert trail("task") == [("add", "cancelled", f"task {task_id}: token revoked")]


def test_the_worker_withdraws_the_tasks_of_a_revoked_token(mcp, client, token, application):
    first, second = started(mcp, "add", {"a": 1, "b": 2}), started(mcp, "delete_file", {"name": "n"})
    work()  # the first completes, the second waits for input
    revoked = client.post(
        "/oauth/revoke/",
        f"token={token}&client_id={application.client_id}",
        content_type="application/x-www-form-urlencoded",
    )
    assert revoked.status_code == 200
    call_command("prune_tasks", stdout=open("/dev/null", "w"))
    assert not McpTask.objects.filter(id__in=[first, second]).exists()
    assert sorted(outcome for _, outcome, detail in trail("task") if "revoked" in detail) == ["cancelled"] * 2


def test_task_methods_need_the_tools_scope(mcp, issue):
    reader = issue(scopes=["mcp:read"], roles=["guest"])
    response = mcp.modern(
        "tasks/get", {"taskId": "x"}, meta={CAPS_KEY: TASKS}, token=reader, headers={"Mcp-Name": "x"}
    )
    assert response.status_code == 403


# --- retention ---


def test_expired_tasks_are_unknown_and_pruned(mcp, settings):
    task_id = started(mcp, "add", {"a": 1, "b": 2})
    work()
    McpTask.objects.filter(id=task_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert send(mcp, "tasks/get", {"taskId": task_id}, status=400)["error"]["code"] == -32602
    call_command("prune_tasks", stdout=open("/dev/null", "w"))
    assert not McpTask.objects.filter(id=task_id).exists()


def test_retention_follows_the_setting(mcp, settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "TASK_RETENTION_SECONDS": 60}
    task_id = started(mcp, "add", {"a": 1, "b": 2})
    work()
    done = get(mcp, task_id)["result"]
    task = McpTask.objects.get(id=task_id)
    assert abs((task.expires_at - task.updated).total_seconds() - 60) < 1
    assert done["ttlMs"] == int((task.expires_at - task.created).total_seconds() * 1000)


def test_the_worker_prunes_expired_tasks(mcp):
    old = started(mcp, "add", {"a": 1, "b": 2})
    work()
    McpTask.objects.filter(id=old).update(expires_at=timezone.now() - timedelta(seconds=1))
    new = started(mcp, "add", {"a": 2, "b": 2})
    work()
    assert not McpTask.objects.filter(id=old).exists() and McpTask.objects.filter(id=new).exists()


def test_unknown_client_capability_types_do_not_enable_tasks(mcp):
    result = call(mcp, "add", {"a": 1, "b": 1}, caps={"extensions": {EXTENSION: True}})["result"]
    assert result["resultType"] == "complete"


def test_the_admin_lists_tasks_without_their_arguments(mcp, admin_client):
    task_id = started(mcp, "delete_file", {"name": "secret-plans.txt"})
    listing = admin_client.get("/admin/mcpserver/mcptask/")
    assert listing.status_code == 200 and task_id in listing.content.decode()
    page = admin_client.get(f"/admin/mcpserver/mcptask/{task_id}/change/")
    assert page.status_code == 200 and b"secret-plans" not in page.content

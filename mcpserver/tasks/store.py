"""The ``McpTask`` rows: who may see a task, its wire shape, every change of its status, retention.

A task belongs to the caller whose token started it: the same subject through the same client of the
same issuer. ``owned`` answers None for anyone else's task and for an expired one, so that a stranger's
task id reads exactly like an unknown one. A task whose starting token has been revoked is withdrawn
(deleted, and audited as cancelled) by whoever notices first: ``owned``, the worker before and while it
runs it (``runner``), or ``prune`` (after each task the worker runs, and ``manage.py prune_tasks``),
while the deny-list still holds the token, i.e. until the token would have expired. Status changes are
conditional updates: a task that was cancelled (or finished) is never moved again, whichever instance or
worker tries.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import audit, conf, denylist
from ..auth import AccessToken
from ..exceptions import InternalError
from ..models import McpTask

Status = McpTask.Status
# Past a run's deadline, how long a step under way may still take before the run counts as lost.
OVERDUE_GRACE_SECONDS = 5
OVERDUE = InternalError(
    "The task's run did not finish in time: its worker stopped, or it ran out of time."
).as_error()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _expiry(now: datetime, terminal: bool) -> datetime:
    """A finished task is kept ``TASK_RETENTION_SECONDS``; one still going, also as long as it may run."""
    keep = conf.get("TASK_RETENTION_SECONDS") + (0 if terminal else conf.get("TASK_TIMEOUT_SECONDS"))
    return now + timedelta(seconds=keep)


def claims(token: AccessToken) -> dict[str, Any]:
    """What the worker needs to act as the token's caller (never the token itself)."""
    return {
        "subject": token.subject,
        "client_id": token.client_id,
        "username": token.username,
        "scopes": sorted(token.scopes),
        "roles": sorted(token.roles),
        "expires_at": token.expires_at,
        "token_id": token.token_id,
        "issued_at": token.issued_at,
        "audiences": sorted(token.audiences),
        "issuer": token.issuer,
        "jkt": token.jkt,
    }


def caller(task: McpTask) -> AccessToken:
    """The caller who started ``task``, as the access token said."""
    found = dict(task.caller)
    for name in ("scopes", "roles", "audiences"):
        found[name] = frozenset(found.get(name) or ())
    return AccessToken(digest=task.token_digest, **found)


def create(
    token: AccessToken,
    tool: str,
    arguments: dict[str, Any],
    version: str,
    client_capabilities: dict[str, Any],
    answers: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
) -> McpTask:
    """A new working task, queued for a worker; both are committed before this returns (so that a
    ``tasks/get`` right after the handle finds it on any instance)."""
    from .runner import run_task  # the runner imports the methods, which import this module

    now = timezone.now()
    with transaction.atomic():
        task = McpTask.objects.create(
            id=secrets.token_urlsafe(24),  # a bearer capability: 192 random bits, never guessable
            subject=token.subject,
            client_id=token.client_id,
            issuer=token.issuer,
            caller=claims(token),
            token_digest=token.digest,
            tool=tool,
            arguments=arguments,
            protocol_version=version,
            client_capabilities=client_capabilities,
            answers=answers or {},
            state=state or {},
            created=now,
            updated=now,
            expires_at=_expiry(now, terminal=False),
        )
        run_task.enqueue(task.id)
    return task


def revoked(task: McpTask) -> bool:
    """Whether the token that started ``task`` has been revoked."""
    return denylist.is_revoked(task.token_digest, task.caller.get("issued_at"))


def withdraw(task: McpTask) -> None:
    """Delete a task whose starting token was revoked; the trail records it as cancelled."""
    if McpTask.objects.filter(id=task.id).delete()[0]:
        detail = f"task {task.id}: token revoked"
        audit.record(caller(task), "task", task.tool, "cancelled", 0.0, None, task.protocol_version, detail)


def owned(token: AccessToken, task_id: str) -> McpTask | None:
    """``task_id`` if this caller started it, it has not expired, and its token is not revoked (a task
    whose token is revoked is withdrawn here); a task whose run is overdue is failed first."""
    now = timezone.now()
    mine = McpTask.objects.owned_by(token.subject, token.client_id, token.issuer).live(now)
    task = mine.filter(id=task_id).first()
    if task is not None and revoked(task):
        withdraw(task)
        return None
    if task is not None and _overdue(task, now) and fail_overdue(task):
        task.refresh_from_db()
    return task


def describe(task: McpTask, detailed: bool = False) -> dict[str, Any]:
    """The task on the wire: a ``CreateTaskResult``'s fields, or (``detailed``) ``tasks/get``'s
    ``DetailedTask`` with the result, the error or the questions waiting for answers."""
    shape: dict[str, Any] = {
        "taskId": task.id,
        "status": task.status,
        "createdAt": _iso(task.created),
        "lastUpdatedAt": _iso(task.updated),
        "ttlMs": max(1, int((task.expires_at - task.created).total_seconds() * 1000)),
        "pollIntervalMs": conf.get("TASK_POLL_INTERVAL_MS"),
    }
    if task.status_message:
        shape["statusMessage"] = task.status_message
    if detailed:
        if task.status == Status.COMPLETED:
            shape["result"] = task.result
        elif task.status == Status.FAILED:
            shape["error"] = task.error
        elif task.status == Status.INPUT_REQUIRED:
            shape["inputRequests"] = task.input_requests
    return shape


def _move(task_id: str, allowed: tuple[str, ...], status: str, **fields: Any) -> bool:
    """Set ``status`` (and ``fields``) if the task is still in one of ``allowed``; whether it was. The
    run under way, if any, has ended: its deadline is cleared."""
    now = timezone.now()
    terminal = status in McpTask.TERMINAL
    moved = McpTask.objects.filter(id=task_id, status__in=allowed).update(
        status=status, updated=now, expires_at=_expiry(now, terminal), run_deadline=None, **fields
    )
    return moved == 1


def begin(task_id: str) -> bool:
    """A worker starts a run of the task: it must end within ``TASK_TIMEOUT_SECONDS`` (the task is kept
    at least that long). Whether it may: the task is still working and no run of it has begun since it
    was queued (one that did was lost with its worker, and is never run again)."""
    now = timezone.now()
    deadline = now + timedelta(seconds=conf.get("TASK_TIMEOUT_SECONDS"))
    working = McpTask.objects.filter(id=task_id, status=Status.WORKING, run_deadline__isnull=True)
    return working.update(run_deadline=deadline, expires_at=_expiry(now, terminal=False)) == 1


def _overdue(task: McpTask, now: datetime) -> bool:
    """Whether ``task`` is working on a run that should have ended ``OVERDUE_GRACE_SECONDS`` ago."""
    if task.status != Status.WORKING or task.run_deadline is None:
        return False
    return task.run_deadline + timedelta(seconds=OVERDUE_GRACE_SECONDS) < now


def fail_overdue(task: McpTask) -> bool:
    """Fail a task whose run is overdue (its worker was killed, or a plain function overran its time:
    a worker never runs the task again, and what a late run produces is dropped), audited as a
    ``timeout``; whether this failed it (not if its run just ended, or another instance was first)."""
    if not _move(task.id, (Status.WORKING,), Status.FAILED, error=OVERDUE):
        return False
    detail = f"task {task.id}: run overdue"
    audit.record(caller(task), "task", task.tool, "timeout", 0.0, None, task.protocol_version, detail)
    return True


def settle(task_id: str, status: str, **fields: Any) -> bool:
    """A run's end: completed, failed, cancelled or waiting for input; only a working task moves."""
    return _move(task_id, (Status.WORKING,), status, **fields)


def cancel(task: McpTask, message: str = "Cancelled at the client's request.") -> bool:
    """Cancel a task that has not finished (a finished one stays as it is); whether this cancelled it."""
    going = (Status.WORKING, Status.INPUT_REQUIRED)
    return _move(task.id, going, Status.CANCELLED, status_message=message, input_requests={})


def still_working(task_id: str, message: str | None = None) -> bool:
    """Whether the task is still working (not cancelled, not gone): else its run should stop. A progress
    ``message`` becomes its ``statusMessage``."""
    working = McpTask.objects.filter(id=task_id, status=Status.WORKING)
    if message is None:
        return working.exists()
    return working.update(status_message=message[:500], updated=timezone.now()) == 1


def deliver(task: McpTask, responses: dict[str, Any]) -> bool:
    """Take the client's answers to the questions ``task`` waits on (others are ignored); once every
    question has one, the task works again and is queued for a worker. Whether it was queued."""
    from .runner import run_task

    with transaction.atomic():
        current = McpTask.objects.select_for_update().filter(id=task.id).first()
        if current is None or current.status != Status.INPUT_REQUIRED:
            return False
        answered = {key: value for key, value in responses.items() if key in current.input_requests}
        if not answered:
            return False
        waiting = {k: v for k, v in current.input_requests.items() if k not in answered}
        current.responses = {**current.responses, **answered}
        current.input_requests = waiting
        current.updated = timezone.now()
        if not waiting:
            current.status = Status.WORKING
            current.expires_at = _expiry(current.updated, terminal=False)
        current.save(update_fields=["responses", "input_requests", "updated", "status", "expires_at"])
        if not waiting:
            run_task.enqueue(current.id)
    return not waiting


def prune(now: datetime | None = None) -> int:
    """Delete the tasks whose retention has ended, withdraw those whose starting token was revoked
    (one deny-list lookup per token), and fail those whose run is overdue; how many were deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=OVERDUE_GRACE_SECONDS)
    for task in McpTask.objects.filter(status=Status.WORKING, run_deadline__lt=cutoff):
        fail_overdue(task)
    deleted = McpTask.objects.expired(now).delete()[0]
    for digest in McpTask.objects.live(now).values_list("token_digest", flat=True).distinct():
        first = McpTask.objects.filter(token_digest=digest).first()
        if first is not None and revoked(first):
            for task in McpTask.objects.filter(token_digest=digest):
                withdraw(task)
                deleted += 1
    return deleted

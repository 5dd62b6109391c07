"""Tasks: the ``io.modelcontextprotocol/tasks`` extension (2026-07-28, SEP-2663) on Django's Tasks framework.

A tool declared with ``@tool(task="optional" | "required")`` called by a client that declares the
extension in its per-request capabilities is answered at once with a task handle (``Created``,
``resultType: "task"``); the work runs in a worker (``manage.py db_worker``, the django-tasks database
backend). ``tasks/get``, ``tasks/update`` and ``tasks/cancel`` (``methods.tasks``) work on any instance:
everything a task is lives in its ``McpTask`` row.

Modules, one job each: ``store`` (the rows: who owns a task, its wire shape, every status change,
retention), ``input`` (the questions a task asks, answered through ``tasks/update``), ``runner`` (the
django-tasks task that runs a tool as the caller who started it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EXTENSION = "io.modelcontextprotocol/tasks"


def negotiated(client_capabilities: dict[str, Any] | None) -> bool:
    """Whether the request's client capabilities declare the tasks extension."""
    extensions = (client_capabilities or {}).get("extensions")
    return isinstance(extensions, dict) and isinstance(extensions.get(EXTENSION), dict)


def required_capabilities() -> dict[str, Any]:
    """The ``data`` of the -32021 error a client that does not take tasks gets."""
    return {"requiredCapabilities": {"extensions": {EXTENSION: {}}}}


@dataclass(frozen=True)
class Created:
    """A ``tools/call`` answered with a task handle: the transport writes it with ``resultType: "task"``."""

    task: dict[str, Any]

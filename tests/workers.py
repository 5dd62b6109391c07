"""What one pytest-xdist worker may write that no other worker touches; loaded before Django reads its
settings (``-p tests.workers`` in pyproject.toml's ``addopts``), so that the settings see it.

Under ``pytest -n N`` the workers run their shares of the test files at the same time, each with its own
databases: pytest-django names Django's test database after the worker, ``e2e.liveserver``'s
``with_worker_suffix`` the live servers' PostgreSQL databases, and ``redis_url`` moves Redis databases:
worker ``gwN`` uses database ``D - 4N`` where a test (or ``REDIS_URL`` and the other variables of
``ENVIRONMENT``) names database ``D``. The tests name databases 12 to 15 only, so up to four workers
share one Redis server; a Redis URL naming another database is refused under xdist rather than shared.
Without xdist nothing changes.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import pytest

DATABASES_PER_WORKER = 4
FIRST_DATABASE = 16 - DATABASES_PER_WORKER  # the databases a test may name: 12 to 15
MAX_WORKERS = 16 // DATABASES_PER_WORKER
# The variables that name a Redis the tests (or the live servers they start) write to.
ENVIRONMENT = ("REDIS_URL", "E2E_REDIS_URL", "TEST_REDIS_URL", "E2E_NOTIFICATIONS_REDIS_URL")


def worker_index() -> int | None:
    """This worker's number (``gw3``: 3), or None outside pytest-xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else None


def redis_url(url: str) -> str:
    """``url`` with its database moved to this worker's (see the module's docstring)."""
    index = worker_index()
    if index is None:
        return url
    parts = urlsplit(url)
    where = f"{parts.scheme}://{parts.hostname}:{parts.port}"  # never the password a URL may hold
    database = parts.path.strip("/") or "0"
    if not database.isdigit() or not FIRST_DATABASE <= int(database) <= 15:
        raise pytest.UsageError(
            f"Under pytest-xdist the tests' Redis URLs name databases {FIRST_DATABASE} to 15 (each worker "
            f"gets its own); a URL for {where} names database {database!r}"
        )
    if index >= MAX_WORKERS:
        raise pytest.UsageError(f"Redis has databases for {MAX_WORKERS} pytest-xdist workers at most")
    return urlunsplit(parts._replace(path=f"/{int(database) - DATABASES_PER_WORKER * index}"))


for _name in ENVIRONMENT:
    if os.environ.get(_name):
        os.environ[_name] = redis_url(os.environ[_name])

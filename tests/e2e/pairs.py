"""Two instances of one deployment, for the tests that cross instances: one database, one Redis, one
secret key and one public URL (the first instance's), on two ports as behind a load balancer.

PostgreSQL comes from ``E2E_DATABASE_URL`` (a database of its own per test module: ``suffix``) or the
local server on port 5432; Redis from ``E2E_REDIS_URL``/``REDIS_URL`` or the local one on port 6379. A
module whose services are unreachable is skipped, naming what is missing.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests import workers

from .liveserver import LiveServer, with_worker_suffix


def database_url(suffix: str) -> str:
    """The PostgreSQL database of one test module (its name ends in ``_<suffix>``)."""
    base = os.environ.get("E2E_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/mcp_e2e"
    parts = urlsplit(base)
    return with_worker_suffix(urlunsplit(parts._replace(path=parts.path.rstrip("/") + f"_{suffix}")))


def redis_url(default: str = "redis://127.0.0.1:6379/13") -> str:
    return os.environ.get("E2E_REDIS_URL") or os.environ.get("REDIS_URL") or workers.redis_url(default)


def unreachable(url: str, default_port: int) -> str | None:
    """Why nothing answers at ``url``'s host and port, or None when something does."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return None
    except OSError as exc:
        return f"{parts.scheme} at {parts.hostname}:{parts.port or default_port} is unreachable ({exc})"


def skip_unless_reachable(database: str, redis: str) -> None:
    reason = unreachable(database, 5432) or unreachable(redis, 6379)
    if reason:
        pytest.skip(f"two instances need a shared PostgreSQL and Redis: {reason}")


def started(first: LiveServer) -> tuple[LiveServer, LiveServer]:
    """Start ``first`` and then its peer (``LiveServer.peer``); neither is left running on a failure."""
    first.start()
    second = first.peer()
    try:
        second.start()
    except Exception:
        first.stop()
        raise
    return first, second


@contextlib.contextmanager
def running(
    first: LiveServer, request: pytest.FixtureRequest | None = None
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Both instances for the ``with`` block, stopped together; their logs are kept when a test of the
    session failed meanwhile (``request`` given)."""
    a, b = started(first)
    failed = request.session.testsfailed if request is not None else 0
    try:
        yield a, b
    finally:
        keep = request is not None and request.session.testsfailed > failed
        if keep:
            print(f"\nkept the logs of instance A ({a.log_path}) and B ({b.log_path})")
        b.stop(keep_files=keep)
        a.stop(keep_files=keep)

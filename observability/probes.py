"""Readiness probes: can this instance reach the database and the shared state right now?

The shared state's probe keeps the name ``cache`` (what ``/ready`` reports and dashboards read).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import connections

import sharedstate

logger = logging.getLogger(__name__)


def database() -> None:
    """One round trip on the default connection (opened if needed)."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def shared_state() -> None:
    """Write and read back a short-lived key: the shared state is reachable and keeps what it is given."""
    sharedstate.ping()


PROBES: dict[str, Callable[[], None]] = {"database": database, "cache": shared_state}


def run(probes: dict[str, Callable[[], None]] | None = None) -> dict[str, bool]:
    """Run every probe; the reason of a failure goes to the log, never to the caller."""
    outcome = {}
    for name, probe in (probes or PROBES).items():
        try:
            probe()
            outcome[name] = True
        except Exception:
            logger.warning("Readiness probe %s failed", name, exc_info=True)
            outcome[name] = False
    return outcome

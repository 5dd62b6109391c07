"""Readiness probes: can this instance reach the database and the shared cache right now?"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from django.core.cache import cache
from django.db import connections

logger = logging.getLogger(__name__)

PROBE_KEY = "observability:ready-probe"


def database() -> None:
    """One round trip on the default connection (opened if needed)."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def shared_cache() -> None:
    """Write and read back a short-lived key: the cache is reachable and keeps what it is given."""
    value = secrets.token_hex(8)
    cache.set(PROBE_KEY, value, 10)
    if cache.get(PROBE_KEY) != value:
        raise RuntimeError("the cache did not return the value just written")


PROBES: dict[str, Callable[[], None]] = {"database": database, "cache": shared_cache}


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

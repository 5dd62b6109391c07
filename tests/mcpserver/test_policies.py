"""The admins' tool overrides, cached per process."""

from __future__ import annotations

import threading
import time
import types

from mcpserver import policies
from mcpserver.models import ToolPolicy


def _cache_for(settings, seconds: float) -> None:
    settings.MCPSERVER = {**settings.MCPSERVER, "POLICY_CACHE_SECONDS": seconds}


def test_threads_that_find_the_cache_stale_together_read_the_database_once(
    mcp_settings, settings, monkeypatch
):
    """Every request thread of a worker reaches the expiry at about the same moment under load; the
    first reads the policies and the others use what it read, instead of each querying in turn."""
    reads = []

    class Policies:
        def overrides(self):
            reads.append(threading.get_ident())
            time.sleep(0.05)  # long enough for every thread to be waiting on the lock meanwhile
            return {"echo": "override"}

    monkeypatch.setattr(ToolPolicy.objects, "all", Policies)
    _cache_for(settings, 60)
    policies.forget()
    start = threading.Barrier(4)
    results = []

    def request_thread():
        start.wait()
        results.append(policies.overrides())

    threads = [threading.Thread(target=request_thread) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(reads) == 1
    assert results == [{"echo": "override"}] * 4


def test_the_policies_are_read_again_once_the_cache_expires(mcp_settings, settings, monkeypatch):
    """On the module's own clock, moved by hand: no sleep racing the cache's lifetime."""
    reads = []
    now = [1000.0]

    class Policies:
        def overrides(self):
            reads.append(1)
            return {}

    monkeypatch.setattr(ToolPolicy.objects, "all", Policies)
    monkeypatch.setattr(policies, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    _cache_for(settings, 5)
    policies.forget()
    policies.overrides()
    now[0] += 4
    policies.overrides()
    assert len(reads) == 1
    now[0] += 1  # the lifetime is over
    policies.overrides()
    assert len(reads) == 2

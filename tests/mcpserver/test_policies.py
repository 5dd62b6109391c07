"""The admins' tool overrides, kept per process until a change is announced (without a change feed:
for ``POLICY_CACHE_SECONDS``)."""

from __future__ import annotations

import threading
import time
import types

import pytest

from mcpserver import policies
from mcpserver.models import ToolPolicy
from sharedstate import stamps
from tests.helpers import UNREACHABLE_STATE, announce_elsewhere


def _cache_for(settings, seconds: float) -> None:
    settings.MCPSERVER = {**settings.MCPSERVER, "POLICY_CACHE_SECONDS": seconds}


@pytest.fixture
def reads(monkeypatch):
    """Every read of the policies from the database, on a clock moved by hand."""
    done = []

    class Policies:
        def overrides(self):
            done.append(1)
            return {}

    monkeypatch.setattr(ToolPolicy.objects, "all", Policies)
    return done


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(stamps, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    return now


def test_threads_that_find_the_policies_stale_together_read_the_database_once(
    mcp_settings, settings, monkeypatch
):
    """Every request thread of a worker finds a change at about the same moment under load; the first
    reads the policies and the others use what it read, instead of each querying in turn."""
    reads = []

    class Policies:
        def overrides(self):
            reads.append(threading.get_ident())
            time.sleep(0.05)  # long enough for every thread to be waiting on the lock meanwhile
            return {"echo": "override"}

    monkeypatch.setattr(ToolPolicy.objects, "all", Policies)
    announce_elsewhere(policies.TOPIC)
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


def test_with_a_feed_the_policies_are_kept_until_a_change_is_announced(mcp_settings, settings, reads, clock):
    """No polling: however long it has been, the policies are read again only after a change."""
    _cache_for(settings, 5)
    policies.overrides()
    clock[0] += 3600
    policies.overrides()
    assert len(reads) == 1
    announce_elsewhere(policies.TOPIC)  # an admin saved a policy on another instance
    policies.overrides()
    assert len(reads) == 2


def test_without_a_feed_the_policies_are_read_again_once_the_interval_is_over(
    mcp_settings, settings, reads, clock
):
    """No change feed (Redis unreachable): the bounded recheck, on a clock moved by hand."""
    settings.SHARED_STATE = UNREACHABLE_STATE
    _cache_for(settings, 5)
    policies.overrides()
    clock[0] += 4
    policies.overrides()
    assert len(reads) == 1
    clock[0] += 1  # the interval is over
    policies.overrides()
    assert len(reads) == 2


def _tools(mcp) -> list[str]:
    return [tool["name"] for tool in mcp.modern("tools/list").json()["result"]["tools"]]


def test_an_admin_edit_applies_on_the_next_request(mcp, admin_client):
    assert "echo" in _tools(mcp)
    saved = admin_client.post(
        "/admin/mcpserver/toolpolicy/add/", {"name": "echo", "enabled": "", "scopes": "", "roles": ""}
    )
    assert saved.status_code == 302, saved.content
    assert "echo" not in _tools(mcp)


def test_an_edit_announced_by_another_process_applies_on_the_next_request(mcp, settings):
    """Not the recheck interval: an hour of it, and the edit still applies at once."""
    _cache_for(settings, 3600)
    ToolPolicy.objects.create(name="echo", enabled=False)
    assert "echo" not in _tools(mcp)
    ToolPolicy.objects.filter(name="echo").update(enabled=True)  # no signal in this process
    announce_elsewhere(policies.TOPIC)
    assert "echo" in _tools(mcp)


def test_a_policy_edit_that_cannot_be_announced_is_not_saved(db, settings):
    """A worker with a working feed would keep a tool an admin switched off: the save fails (an outage)."""
    from django.db import transaction

    from observability.outages import OUTAGES

    settings.SHARED_STATE = UNREACHABLE_STATE
    with pytest.raises(OUTAGES), transaction.atomic():
        ToolPolicy.objects.create(name="echo", enabled=False)
    assert not ToolPolicy.objects.exists()

"""The embedded back end's change feed: slots in a file beside the SQLite database, one page for
every process on the host; none on databases that other hosts may share."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

import sharedstate
from sharedstate.embedded import EmbeddedState, Slots
from tests.helpers import committed

ROOT = Path(__file__).resolve().parents[2]


def test_the_slots_file_is_one_page_for_every_process(tmp_path):
    """Two mappings of the file (this process and a child) see each other's announcements."""
    path = str(tmp_path / "db.sqlite3-state")
    reader = Slots(path)
    before, other = reader.read("revocations"), reader.read("clients")
    code = f"from sharedstate.embedded import Slots; Slots({path!r}).change('revocations')"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(ROOT))
    assert reader.read("revocations") != before and len(reader.read("revocations")) == 8
    assert reader.read("clients") == other or Slots._offset("clients") == Slots._offset("revocations")
    assert Slots(path).read("revocations") == reader.read("revocations")  # a later process maps the same


def test_a_slots_file_that_cannot_be_opened_means_no_feed(tmp_path, caplog):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")

    class Broken:
        vendor = "sqlite"
        settings_dict = {"NAME": str(blocked / "db.sqlite3")}

        @staticmethod
        def is_in_memory_db():
            return False

    assert EmbeddedState._open(Broken()) is None
    assert "No change feed" in caplog.text


@pytest.mark.django_db
def test_databases_other_hosts_may_share_have_no_feed():
    """PostgreSQL and the like serve many hosts: readers must look up, so no feed is offered."""
    state = EmbeddedState()
    if connection.vendor == "sqlite":
        assert state.version("revocations") is not None
    else:
        assert state.version("revocations") is None


@committed
def test_a_change_is_announced_at_once_and_again_when_its_transaction_commits(settings):
    """A reader that reloads between the change and its commit reads the rows as they were: the second
    announcement, at the commit, sends it back to the database."""
    from django.db import transaction

    settings.SHARED_STATE = {"BACKEND": "sharedstate.embedded.EmbeddedState"}
    if connection.vendor != "sqlite":
        pytest.skip("no embedded feed on this database")
    before = sharedstate.version("policies")
    with transaction.atomic():
        sharedstate.changed("policies")
        inside = sharedstate.version("policies")
    assert inside != before  # at once: readers on this connection see the change already
    assert sharedstate.version("policies") != inside


@pytest.mark.django_db
def test_reset_makes_every_version_new(settings):
    settings.SHARED_STATE = {"BACKEND": "sharedstate.embedded.EmbeddedState"}
    if connection.vendor != "sqlite":
        pytest.skip("no embedded feed on this database")
    seen = sharedstate.version("clients")
    assert sharedstate.version("clients") == seen
    sharedstate.reset()
    assert sharedstate.version("clients") != seen


@pytest.mark.django_db
def test_a_live_counter_is_incremented_without_trying_to_create_it_again(monkeypatch):
    """A failed ``add`` is not free (the database cache tries an INSERT in a write transaction)."""
    state = EmbeddedState()
    cache = state.cache
    adds = []
    real_add = cache.add
    monkeypatch.setattr(cache, "add", lambda *args, **kwargs: adds.append(args) or real_add(*args, **kwargs))
    assert state.incr("test-counter", 20, 60) == 20
    assert len(adds) == 1
    assert [state.incr("test-counter", 20, 60) for _ in range(3)] == [40, 60, 80]
    assert len(adds) == 1


# --- messages ---


@pytest.mark.django_db
def test_a_message_for_a_receiver_in_this_process_is_handed_over_without_the_database():
    from django.test.utils import CaptureQueriesContext

    from tests.sharedstate.test_contract import receive_in_thread

    state = EmbeddedState()
    join = receive_in_thread(state, "here")
    time.sleep(0.2)  # the receiver waits already
    with CaptureQueriesContext(connection) as queries:
        state.send("here", {"result": {"n": 1}}, 60)
    assert len(queries) == 0
    message, waited = join()
    assert message == {"result": {"n": 1}}
    assert waited < 0.2 + 0.1


@committed  # the receiver's thread reads what the test's connection wrote
def test_without_a_feed_the_receiver_reads_the_cache_every_poll_interval():
    """A database other than SQLite (no feed): what another process stored arrives within POLL_SECONDS."""
    from sharedstate.embedded import POLL_SECONDS
    from tests.sharedstate.test_contract import receive_in_thread

    class WithoutFeed(EmbeddedState):
        def version(self, topic):
            return None

    receiver, other_process = WithoutFeed(), WithoutFeed()
    join = receive_in_thread(receiver, "polled")
    time.sleep(0.25)
    sent = time.monotonic()
    other_process.send("polled", {"n": 2}, 60)
    message, waited = join()
    assert message == {"n": 2}
    assert time.monotonic() - sent < POLL_SECONDS + 0.3


def test_a_message_crosses_processes_on_one_sqlite_database(tmp_path):
    """Two processes of the embedded default: the receiver learns of the stored message from the
    change feed's slot file, within FEED_POLL_SECONDS and a cache read."""
    import json
    import os

    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", DJANGO_SETTINGS_MODULE="config.settings")
    run = {"cwd": str(ROOT), "env": env, "text": True}
    subprocess.run([sys.executable, "manage.py", "createcachetable"], check=True, capture_output=True, **run)
    setup = "import django, json, time; django.setup(); import sharedstate; "
    receive = (
        "print('waiting', flush=True); m = sharedstate.receive('x', 20); print(json.dumps([m, time.time()]))"
    )
    receiver = subprocess.Popen([sys.executable, "-c", setup + receive], stdout=subprocess.PIPE, **run)
    try:
        assert receiver.stdout.readline().strip() == "waiting"
        time.sleep(0.3)  # the receiver waits already
        send = "sharedstate.send('x', {'n': 3}); print(time.time())"
        sender = subprocess.run([sys.executable, "-c", setup + send], check=True, capture_output=True, **run)
        message, received_at = json.loads(receiver.stdout.readline())
    finally:
        receiver.kill()
        receiver.wait()
    assert message == {"n": 3}
    assert received_at - float(sender.stdout) < 0.2

"""config.cache.DatabaseCache: a change stamp for watched key prefixes, shared by the host's processes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.db import connection

from config.cache import ChangeStamp, DatabaseCache

WATCHED = "revoked-token:"


@pytest.fixture
def backend(db, settings):
    from django.core.management import call_command

    # createcachetable makes the tables of the configured caches: a database cache, even on a Redis run.
    settings.CACHES = {"default": {"BACKEND": "config.cache.DatabaseCache", "LOCATION": "authserver_cache"}}
    call_command("createcachetable", verbosity=0)
    cache = DatabaseCache(
        "authserver_cache", {"KEY_PREFIX": "stamp-test", "OPTIONS": {"WATCHED_PREFIXES": [WATCHED]}}
    )
    yield cache
    cache.clear()


def test_the_stamp_file_is_one_page_for_every_process(tmp_path):
    """Two mappings of the file (here: this process and a child) see each other's changes."""
    path = str(tmp_path / "db.sqlite3-cache-stamp")
    reader = ChangeStamp(path)
    before = reader.read()
    code = f"from config.cache import ChangeStamp; ChangeStamp({path!r}).change()"
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[1])
    )
    after = reader.read()
    assert after != before and len(after) == 8
    assert ChangeStamp(path).read() == after  # a later process maps the same bytes


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the stamp exists only for SQLite")
def test_every_kind_of_write_under_a_watched_prefix_changes_the_stamp(
    backend, django_capture_on_commit_callbacks
):
    stamp = backend.change_stamp(WATCHED)
    assert stamp is not None and backend.change_stamp(WATCHED + "more") is stamp
    writes = [
        lambda: backend.set(WATCHED + "a", 1, 60),
        lambda: backend.add(WATCHED + "b", 1, 60),
        lambda: backend.set_many({WATCHED + "c": 1}, 60),
        lambda: backend.touch(WATCHED + "a", 120),
        lambda: backend.delete(WATCHED + "a"),
        lambda: backend.delete_many([WATCHED + "b"]),
        lambda: backend.clear(),
    ]
    for write in writes:
        seen = stamp.read()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            write()
        assert stamp.read() != seen
        assert callbacks, "the stamp changes again when the write commits"


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the stamp exists only for SQLite")
def test_other_keys_and_refused_adds_leave_the_stamp_alone(backend):
    stamp = backend.change_stamp(WATCHED)
    backend.set(WATCHED + "a", 1, 60)
    seen = stamp.read()
    backend.set("token-requests:client", 1, 60)
    backend.delete("mcp-session:x")
    assert backend.add(WATCHED + "a", 2, 60) is False
    assert stamp.read() == seen
    assert backend.change_stamp("other-prefix:") is None


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the stamp exists only for SQLite")
def test_the_stamp_changes_again_after_commit(backend, django_capture_on_commit_callbacks):
    """Inside a transaction the write is invisible to other connections until it commits: the stamp
    changes at the write (for this connection) and again after the commit (for everyone else)."""
    stamp = backend.change_stamp(WATCHED)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        backend.set(WATCHED + "in-a-transaction", 1, 60)
    written = stamp.read()
    for callback in callbacks:
        callback()
    assert stamp.read() != written


def test_databases_other_hosts_may_share_have_no_stamp(backend):
    """PostgreSQL and the like serve many hosts: readers must query, so no stamp is offered."""
    if connection.vendor == "sqlite":
        assert backend.change_stamp(WATCHED) is not None
    else:
        assert backend.change_stamp(WATCHED) is None


def test_a_stamp_file_that_cannot_be_opened_means_no_stamp(tmp_path, caplog):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    assert DatabaseCache._open(str(blocked / "db.sqlite3-cache-stamp")) is None
    assert "No change stamp" in caplog.text

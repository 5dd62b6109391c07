"""config.cache.RedisCache: Django's Redis cache, one client object per connection pool, reused; and the
change stamp of its watched prefixes from Redis's invalidation messages (TrackingStamp)."""

from __future__ import annotations

import os
import time
import uuid

import pytest
import redis

from config.cache import RedisCache
from tests.helpers import redis_available

pytestmark = pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")


@pytest.fixture
def cache():
    backend = RedisCache("redis://127.0.0.1:6379/15", {"KEY_PREFIX": uuid.uuid4().hex})
    yield backend
    backend.clear()


def test_one_client_serves_every_operation(cache):
    cache.set("a", 1)
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=False) is client
    assert cache._cache.get_client("any key", write=True) is client
    assert cache.get("a") == 1
    assert cache.incr("a") == 2
    assert cache.add("b", "x") and not cache.add("b", "y")
    assert cache.get_many(["a", "b", "c"]) == {"a": 2, "b": "x"}
    cache.delete("a")
    assert cache.get("a") is None


def test_replicas_each_get_their_own_client():
    backend = RedisCache("redis://127.0.0.1:6379/15,redis://127.0.0.1:6379/15", {})
    primary = backend._cache.get_client(write=True)
    replica = backend._cache.get_client(write=False)  # the only replica: index 1
    assert replica is not primary
    assert replica.connection_pool is backend._cache._pools[1]
    assert backend._cache.get_client(write=False) is replica


def test_a_dropped_connection_is_replaced_by_the_pool(cache):
    """The kept client holds no connection of its own: after Redis drops them, the next command reconnects."""
    cache.set("k", "v")
    client = cache._cache.get_client(write=True)
    own = client.client_id()
    client.client_kill_filter(_id=own, skipme=False)
    assert cache.get("k") == "v"  # redis-py retries on a fresh connection from the pool
    assert cache._cache.get_client() is client


# --- TrackingStamp: the deny-list's change stamp from Redis's invalidation messages ---

PREFIX = "revoked-token:"


@pytest.fixture
def watched():
    options = {"WATCHED_PREFIXES": [PREFIX]}
    backend = RedisCache("redis://127.0.0.1:6379/15", {"KEY_PREFIX": uuid.uuid4().hex, "OPTIONS": options})
    yield backend
    stamp = backend.change_stamp(PREFIX)
    if stamp is not None and stamp._connection is not None:
        stamp._disconnect()
    backend.clear()


def connected(stamp, timeout: float = 5.0):
    """The stamp's first value once its connection (made in a thread of its own) is up."""
    deadline = time.monotonic() + timeout
    while (value := stamp.read()) is None:
        assert time.monotonic() < deadline, "the stamp never connected"
        time.sleep(0.01)
    return value


def other_instance():
    """A client of its own, as another instance's cache would be."""
    return redis.Redis.from_url("redis://127.0.0.1:6379/15")


def test_watched_prefixes_are_ours_not_redis_py_options(watched):
    watched.set("a", 1)
    assert watched.get("a") == 1
    assert watched.change_stamp("other:") is None  # only watched prefixes get a stamp


def test_the_stamp_moves_on_writes_under_the_prefix_only(watched):
    stamp = watched.change_stamp(PREFIX)
    first = connected(stamp)
    assert stamp.read() == first  # nothing written: the same value
    watched.set("unrelated", 1)
    other_instance().set(watched.make_key("elsewhere:" + "0" * 64), 1)
    assert stamp.read() == first
    other_instance().set(watched.make_key(PREFIX + "a" * 64), 1)  # another instance revokes
    second = stamp.read()
    assert second != first
    assert stamp.read() == second
    watched.delete(PREFIX + "a" * 64)
    assert stamp.read() not in {first, second}


def test_a_write_is_seen_by_the_very_next_read_every_time(watched):
    """Redis queues the invalidation before it answers the writer: once the write returned, the next
    read has the message (the strict guarantee revocation needs), 300 times in a row."""
    stamp = watched.change_stamp(PREFIX)
    connected(stamp)
    writer = other_instance()
    for n in range(300):
        before = stamp.read()
        writer.set(watched.make_key(PREFIX + f"{n:064x}"), 1)
        assert stamp.read() != before, n


def test_a_flood_of_messages_is_read_to_the_end(watched):
    """More messages than one read takes: the ping reads everything sent before it, so the next read
    finds nothing left and keeps the value."""
    stamp = watched.change_stamp(PREFIX)
    first = connected(stamp)
    pipe = other_instance().pipeline(transaction=False)
    for n in range(5000):
        pipe.set(watched.make_key(PREFIX + f"{n:064x}"), 1)
    pipe.execute()
    moved = stamp.read()
    assert moved != first
    assert stamp.read() == moved
    # A flush is announced too, though as Redis executes it, so just after its caller's reply (a
    # write's message goes out ahead of the writer's reply); a flushed deny-list loses no revoked
    # token to this, since its marker goes with it (tests/mcpserver/test_denylist.py).
    other_instance().flushdb()
    deadline = time.monotonic() + 5
    while stamp.read() == moved:
        assert time.monotonic() < deadline
        time.sleep(0.001)


def test_a_lost_connection_reads_none_then_a_new_value(watched):
    stamp = watched.change_stamp(PREFIX)
    first = connected(stamp)
    other_instance().client_kill_filter(_id=stamp.client_id)
    assert stamp.read() is None  # the connection closed: no stamp, readers look keys up
    assert connected(stamp) != first  # reconnected by its thread, with a value never seen before


def test_without_redis_the_stamp_reads_none_and_retries_less_and_less_often(monkeypatch):
    """A Redis that refuses connections: no stamp, no request waits for a connection, and a thread
    tries again after a second, then after two, and so on (up to MAX_RETRY_SECONDS)."""
    backend = RedisCache("redis://127.0.0.1:9/15", {"OPTIONS": {"WATCHED_PREFIXES": [PREFIX]}})
    stamp = backend.change_stamp(PREFIX)
    tried = []
    source = stamp._pool
    stamp._pool = lambda: tried.append(1) or source()

    def settled():
        deadline = time.monotonic() + 5
        while stamp._connecting and time.monotonic() < deadline:
            time.sleep(0.01)

    assert stamp.read() is None
    settled()
    assert [stamp.read() for _ in range(50)] == [None] * 50
    settled()
    assert len(tried) == 1
    clock = [time.monotonic()]
    monkeypatch.setattr("config.cache.time.monotonic", lambda: clock[0])
    clock[0] += stamp.RETRY_SECONDS + 0.01
    assert stamp.read() is None
    settled()
    assert len(tried) == 2
    clock[0] += 1.5  # failures go on: the next attempt waits twice as long
    assert stamp.read() is None
    settled()
    assert len(tried) == 2
    clock[0] += 0.6
    assert stamp.read() is None
    settled()
    assert len(tried) == 3


def test_a_forked_child_connects_on_its_own(watched):
    """A child reading the parent's socket would take messages meant for the parent."""
    stamp = watched.change_stamp(PREFIX)
    first = connected(stamp)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, b"none" if stamp._connection is None and stamp.read() is None else b"kept")
        os._exit(0)
    os.close(write)
    assert os.read(read, 8) == b"none"
    os.waitpid(pid, 0)
    os.close(read)
    assert stamp.read() == first  # the parent's connection is untouched
    other_instance().set(watched.make_key(PREFIX + "f" * 64), 1)
    assert stamp.read() != first


def test_no_stamp_under_a_key_function_that_does_not_keep_prefixes():
    backend = RedisCache(
        "redis://127.0.0.1:6379/15",
        {"KEY_FUNCTION": "tests.test_cache.reversed_key", "OPTIONS": {"WATCHED_PREFIXES": [PREFIX]}},
    )
    assert backend.change_stamp(PREFIX) is None


def reversed_key(key, key_prefix, version):
    return f"{key_prefix}:{version}:{key[::-1]}"

"""The Redis back end's change feed: a subscription per process that never reconnects behind our back."""

from __future__ import annotations

import os
import time
import uuid

import pytest
import redis

from sharedstate.redis import RedisState
from tests.helpers import redis_available
from tests.sharedstate.test_contract import REDIS, wait_for_feed

pytestmark = pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")


@pytest.fixture
def state():
    backend = RedisState(REDIS, key_prefix=uuid.uuid4().hex, options={"socket_timeout": 1})
    yield backend
    backend.close()


def test_a_process_sees_its_own_announcement_at_once(state):
    first = wait_for_feed(state, "revocations")
    state.announce("revocations")
    assert state.version("revocations") != first  # no round trip needed for this process's own


def test_a_flood_of_announcements_is_read_to_the_end(state):
    first = wait_for_feed(state, "revocations")
    for _ in range(5000):
        state.announce("revocations")
    state.client.ping()
    moved = state.version("revocations")
    assert moved != first and moved[1] == 2 * 5000  # each announcement, seen at once and read back
    assert state.version("revocations") == moved  # nothing left unread


def test_a_lost_subscription_reads_none_then_a_new_generation(state):
    first = wait_for_feed(state, "revocations")
    admin = redis.Redis.from_url(REDIS)
    ours = [c["id"] for c in admin.client_list(_type="pubsub") if c.get("name") == state.feed_name]
    assert len(ours) == 1  # one subscription per process, named for CLIENT LIST
    admin.client_kill_filter(_id=ours[0])
    deadline = time.monotonic() + 2
    while state.version("revocations") is not None:  # the next read finds the connection closed
        assert time.monotonic() < deadline
    again = wait_for_feed(state, "revocations")
    assert again != first and again[0] != first[0]  # nothing read before the break matches after


def test_without_redis_the_feed_reads_none_and_retries_less_and_less_often(monkeypatch):
    """A Redis that refuses connections: no feed, no request waits, and a thread tries again after a
    second, then after two, and so on (up to MAX_RETRY_SECONDS)."""
    state = RedisState("redis://127.0.0.1:9/15", options={"socket_connect_timeout": 0.5})
    tried = []
    subscribe = state._subscribe
    monkeypatch.setattr(state, "_subscribe", lambda: tried.append(1) or subscribe())

    def settled():
        deadline = time.monotonic() + 5
        while state._connecting and time.monotonic() < deadline:
            time.sleep(0.01)

    assert state.version("t") is None
    settled()
    assert [state.version("t") for _ in range(50)] == [None] * 50
    settled()
    assert len(tried) == 1
    clock = [time.monotonic()]
    monkeypatch.setattr("sharedstate.redis.time.monotonic", lambda: clock[0])
    clock[0] += state.RETRY_SECONDS + 0.01
    assert state.version("t") is None
    settled()
    assert len(tried) == 2
    clock[0] += 1.5  # failures go on: the next attempt waits twice as long
    assert state.version("t") is None
    settled()
    assert len(tried) == 2
    clock[0] += 0.6
    assert state.version("t") is None
    settled()
    assert len(tried) == 3
    with pytest.raises(redis.exceptions.ConnectionError):
        state.get_many(["k"])  # the key-value side fails loudly: callers fall back or answer 503


def test_a_forked_child_subscribes_on_its_own(state):
    """A child reading the parent's socket would take messages meant for the parent."""
    first = wait_for_feed(state, "t")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, b"none" if state.version("t") is None else b"kept")
        os._exit(0)
    os.close(write)
    assert os.read(read, 8) == b"none"
    os.waitpid(pid, 0)
    os.close(read)
    assert state.version("t") == first  # the parent's subscription is untouched
    state.announce("t")
    state.client.ping()
    assert state.version("t") != first


def test_keys_live_under_the_prefix_as_json(state):
    state.set("session:x", {"subject": "alice"}, 60)
    raw = redis.Redis.from_url(REDIS).get(state.prefix + "session:x")
    assert raw == b'{"subject":"alice"}'


def test_announcements_stay_within_their_database():
    """PUBLISH ignores database numbers: two deployments on one server, same prefix, other databases."""
    ours = RedisState(REDIS, key_prefix="same", options={"socket_timeout": 1})
    base, database = REDIS.rsplit("/", 1)
    elsewhere = f"{base}/{(int(database) + 1) % 16}"  # another database on the same server
    theirs = RedisState(elsewhere, key_prefix="same", options={"socket_timeout": 1})
    try:
        first = wait_for_feed(ours, "t")
        theirs.announce("t")
        theirs.client.ping()
        assert ours.version("t") == first
        ours.announce("t")
        ours.client.ping()
        assert ours.version("t") != first
    finally:
        ours.close()
        theirs.close()


def test_one_client_serves_every_key_operation_and_reconnects_after_a_drop(state):
    """The keys' client holds no connection of its own: after Redis drops the one it used, the next
    command gets a fresh one from the pool (no error reaches the caller, no new client is made)."""
    client = state.client
    state.set("k", "v", 60)
    assert state.incr("n", 1, 60) == 1 and state.add("a", 1, 60)
    assert state.client is client
    killed = redis.Redis.from_url(REDIS).client_kill_filter(_id=client.client_id())
    assert killed == 1
    assert state.get_many(["k", "a"]) == {"k": "v", "a": 1}
    assert state.client is client


# --- messages ---


def test_a_message_from_another_instance_reaches_a_receiver_waiting_already(state):
    from tests.sharedstate.test_contract import receive_in_thread

    other = RedisState(REDIS, key_prefix=state.prefix.rstrip(":"), options={"socket_timeout": 1})
    try:
        join = receive_in_thread(state, "answer")
        time.sleep(0.2)
        other.send("answer", {"result": {}}, 60)
        message, waited = join()
    finally:
        other.close()
    assert message == {"result": {}}
    assert waited < 0.2 + 0.3


def test_waiting_longer_than_the_socket_timeout_is_not_a_dead_server(state):
    """BLPOP is asked for in slices shorter than the client's socket timeout (1 s here)."""
    started = time.monotonic()
    assert state.receive("quiet", 2.5) is None
    assert 2.4 <= time.monotonic() - started < 3.5


def test_messages_live_in_a_list_under_the_prefix_that_expires(state):
    state.send("c", {"n": 1}, 60)
    admin = redis.Redis.from_url(REDIS)
    name = state.prefix + "sharedstate:messages:c"
    assert admin.lrange(name, 0, -1) == [b'{"n":1}']
    assert 0 < admin.ttl(name) <= 60
    state.clear()
    assert admin.exists(name) == 0

"""The shared-state interface, the same on both back ends (Redis and the embedded default)."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest

from sharedstate.embedded import EmbeddedState
from sharedstate.redis import RedisState
from tests.helpers import committed, redis_available
from tests.workers import redis_url

# The Redis database the back end's tests use (TEST_REDIS_URL picks another).
REDIS = os.environ.get("TEST_REDIS_URL") or redis_url("redis://127.0.0.1:6379/14")


def wait_for_feed(state, topic="t", timeout=5.0):
    """The first version once the back end's feed is up (Redis subscribes in a thread of its own)."""
    deadline = time.monotonic() + timeout
    while (value := state.version(topic)) is None:
        assert time.monotonic() < deadline, "the change feed never came up"
        time.sleep(0.01)
    return value


@pytest.fixture(params=["embedded", "redis"])
def state(request):
    if request.param == "redis":
        if not redis_available():
            pytest.skip("no Redis on 127.0.0.1:6379")
        backend = RedisState(REDIS, key_prefix=uuid.uuid4().hex, options={"socket_timeout": 1})
        yield backend
        backend.close()
    else:
        request.getfixturevalue("db")
        yield EmbeddedState()


def test_values_round_trip_with_their_json_shape(state):
    value = {"subject": "alice", "n": 3, "ok": True, "scores": [1.5, None], "name": "é"}
    state.set("k", value, 60)
    assert state.get_many(["k", "missing"]) == {"k": value}
    state.set("k", 2, 60)
    assert state.get_many(["k"]) == {"k": 2}
    state.delete("k")
    assert state.get_many(["k"]) == {}


def test_add_stores_only_what_is_absent(state):
    assert state.add("once", "first", 60) is True
    assert state.add("once", "second", 60) is False
    assert state.get_many(["once"]) == {"once": "first"}


def test_values_expire(state):
    state.set("short", 1, 1)
    state.set("forever", 1, None)
    assert state.get_many(["short", "forever"]) == {"short": 1, "forever": 1}
    time.sleep(2.1)
    assert state.get_many(["short", "forever"]) == {"forever": 1}
    assert state.add("short", 2, 60) is True  # gone, so it can be added again


def test_a_counter_counts_within_the_window_of_its_first_hit(state):
    assert state.incr("c", 1, 1) == 1
    assert state.incr("c", 2, 60) == 3  # a later hit does not stretch the window
    time.sleep(2.1)
    assert state.incr("c", 1, 60) == 1


def test_seen_once_is_true_the_first_time_only(state):
    import sharedstate

    assert state.add("jti:abc", 1, 60) is True
    assert state.add("jti:abc", 1, 60) is False
    assert sharedstate.seen_once.__doc__  # the public verb is add() on the back end


def test_an_announced_change_is_seen_by_the_next_request(state):
    """What the revocation guarantee needs: a change announced before the next request reaches a
    process is seen by that request. Between the two there is at least the announcer's reply going
    back to its client and a new request coming in; the round trip to Redis after each announcement
    stands for that (on the loopback, a published message can still be in the kernel for a few tens
    of microseconds when the publisher's own reply is read)."""
    if isinstance(state, EmbeddedState) and state.version("revocations") is None:
        pytest.skip("no embedded feed on this database (tests/sharedstate/test_embedded.py)")
    first = wait_for_feed(state, "revocations")
    assert state.version("revocations") == first  # nothing announced: the same value
    state.announce("clients")  # another topic
    assert state.version("revocations") == first or isinstance(state, EmbeddedState)
    for n in range(300):
        before = state.version("revocations")
        state.announce("revocations")
        if isinstance(state, RedisState):
            state.client.ping()
        assert state.version("revocations") != before, n


def test_the_probe_writes_and_reads_back(state):
    state.ping()


def test_clear_deletes_every_key_of_this_state_and_no_other(state):
    state.set("a", 1, 60)
    state.set("b", 2, None)
    state.clear()
    assert state.get_many(["a", "b"]) == {}


# --- messages to a waiting request ---


def receive_in_thread(state, channel, timeout=5.0):
    """Start a receiver in another thread; join() returns what it received and how long it waited."""
    outcome = {}

    def run():
        started = time.monotonic()
        outcome["message"] = state.receive(channel, timeout)
        outcome["waited"] = time.monotonic() - started

    thread = threading.Thread(target=run)
    thread.start()

    def join():
        thread.join(timeout + 5)
        return outcome["message"], outcome["waited"]

    return join


def test_a_message_sent_before_anyone_waits_is_received_later(state):
    state.send("answers:1", {"result": {"action": "accept"}}, 60)
    assert state.receive("answers:1", 1) == {"result": {"action": "accept"}}
    assert state.receive("answers:1", 0.2) is None  # received once


def test_messages_come_oldest_first_and_channels_are_apart(state):
    for n in range(3):
        state.send("a", {"n": n}, 60)
    state.send("b", {"n": "b"}, 60)
    assert [state.receive("a", 1) for _ in range(3)] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert state.receive("b", 1) == {"n": "b"}


def test_receive_waits_for_its_timeout_then_answers_none(state):
    started = time.monotonic()
    assert state.receive("nothing", 0.3) is None
    assert 0.25 <= time.monotonic() - started < 1.5


def test_a_waiting_receiver_gets_a_message_sent_after_it_began_waiting_at_once(state):
    join = receive_in_thread(state, "waiting")
    time.sleep(0.2)  # the receiver waits already
    state.send("waiting", {"result": {"ok": True}}, 60)
    message, waited = join()
    assert message == {"result": {"ok": True}}
    assert waited < 0.2 + 0.5


def test_a_channel_keeps_at_most_max_messages(state):
    from sharedstate import MAX_MESSAGES

    for n in range(MAX_MESSAGES + 3):
        state.send("full", {"n": n}, 60)
    received = [state.receive("full", 0.05) for _ in range(MAX_MESSAGES + 3)]
    assert [m["n"] for m in received if m is not None] == list(range(MAX_MESSAGES))


def test_an_undelivered_message_expires(state):
    state.send("short", {"n": 1}, 1)
    time.sleep(2.1)
    assert state.receive("short", 0.05) is None


# --- logs ---


def test_a_log_is_read_after_an_id_oldest_first_by_any_number_of_readers(state):
    start = state.end("feed")
    ids = [state.append("feed", {"n": n}, 10, 60) for n in range(3)]
    assert state.read("feed", start, 1) == [(ids[0], {"n": 0}), (ids[1], {"n": 1}), (ids[2], {"n": 2})]
    assert state.read("feed", ids[0], 1) == [(ids[1], {"n": 1}), (ids[2], {"n": 2})]  # another reader
    assert state.end("feed") == ids[2]
    assert state.read("other", state.end("other"), 0.05) == []  # logs are apart


def test_a_log_keeps_its_last_events_only(state):
    start = state.end("short")
    for n in range(6):
        state.append("short", {"n": n}, 3, 60)
    assert [event["n"] for _, event in state.read("short", start, 1)] == [3, 4, 5]


@committed  # the reading thread sees what the test's thread committed
def test_a_reader_waits_for_the_next_event_and_gets_it_at_once(state):
    start = state.end("wait")
    started = time.monotonic()
    assert state.read("wait", start, 0.3) == []
    assert 0.25 <= time.monotonic() - started < 1.5
    outcome = {}
    reader = threading.Thread(target=lambda: outcome.update(events=state.read("wait", start, 5)))
    reader.start()
    time.sleep(0.2)
    sent = time.monotonic()
    event_id = state.append("wait", {"hello": "world"}, 10, 60)
    reader.join(5)
    assert outcome["events"] == [(event_id, {"hello": "world"})]
    assert time.monotonic() - sent < 0.5


def test_an_id_the_back_end_never_makes_is_a_value_error(state):
    for bad in ["", "abc", "1-2-3", "-1", "9" * 50, "1\n2"]:
        with pytest.raises(ValueError):
            state.read("feed", bad, 0.01)


def test_a_log_expires_after_its_last_append(state):
    start = state.end("brief")
    state.append("brief", {"n": 1}, 10, 1)
    time.sleep(2.1)
    assert state.read("brief", start, 0.05) == []


def test_a_log_keeping_more_than_one_read_is_read_from_its_first_event_in_pages(state):
    from sharedstate import MAX_READ

    start = state.end("long")
    for n in range(MAX_READ + 5):
        state.append("long", {"n": n}, 10 * MAX_READ, 60)
    page = state.read("long", start, 1)
    assert [event["n"] for _, event in page] == list(range(MAX_READ))
    assert [event["n"] for _, event in state.read("long", page[-1][0], 1)] == list(
        range(MAX_READ, MAX_READ + 5)
    )

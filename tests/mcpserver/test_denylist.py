"""The deny-list (``mcpserver.denylist`` reading, ``authserver.revoking`` writing) on the shared state.

- The shared state unreachable: the fallback answers, or the request gets a 503.
- A deny-list that starts over (new, restarted empty or flushed) sends tokens issued before it to the
  fallback, once per process.
- The change feed: a token found clean is not looked up again while no revocation is announced;
  one announced here or by another instance is seen on the next request; without a feed every
  request looks up.
- ``KEYS_WITHDRAWN``: the issuer's withdrawal of a key reaches the next lookup.

Most tests use the back end the run configures (SQLite: the embedded one; ``REDIS_URL``: Redis);
the change-feed tests run on each back end explicitly (``feed``).
"""

from __future__ import annotations

import hashlib
import time
import uuid

import pytest
from django.db import connection

import sharedstate
from mcpserver import denylist
from sharedstate.embedded import EmbeddedState
from sharedstate.redis import RedisState
from tests.helpers import redis_available
from tests.workers import redis_url

REDIS = redis_url("redis://127.0.0.1:6379/13")
# A Redis nobody listens on: every command fails at once with "connection refused".
UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}
UNREACHABLE_STATE = {
    "BACKEND": "sharedstate.redis.RedisState",
    "LOCATION": "redis://127.0.0.1:1/0",
    "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
}
DATABASE_CACHE = {
    "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "authserver_cache"}
}
FALLBACK = "tests.mcpserver.test_denylist.fallback"
REVOKED: set[str] = set()
ASKED: list[str] = []


def fallback(checksum: str) -> bool:
    """A stand-in for the issuer's records."""
    ASKED.append(checksum)
    return checksum in REVOKED


@pytest.fixture
def with_fallback(mcp_settings, settings):
    REVOKED.clear()
    ASKED.clear()
    settings.MCPSERVER = {**settings.MCPSERVER, "REVOCATION_FALLBACK": FALLBACK}
    denylist.forget()  # verdicts are kept per marker, and two tests can start one in the same second
    yield
    denylist.forget()


@pytest.fixture
def unreachable(settings):
    """Redis down: the shared state (and Django's cache, which MCP sessions still use) refuse."""
    settings.CACHES = UNREACHABLE_REDIS
    settings.SHARED_STATE = UNREACHABLE_STATE


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def echo(mcp, token: str):
    return mcp.legacy("tools/call", {"name": "echo", "arguments": {"message": "hi"}}, token=token)


def marker_key() -> str:
    from django.conf import settings

    return settings.TOKEN_REVOCATION_PREFIX + denylist.MARKER


def deny_key(checksum: str) -> str:
    from django.conf import settings

    return settings.TOKEN_REVOCATION_PREFIX + checksum


def revoke(checksum: str) -> None:
    from django.utils import timezone

    from authserver import revoking

    revoking.deny(checksum, timezone.now() + timezone.timedelta(minutes=5))


# --- the shared state is unreachable ---


def test_without_the_shared_state_the_fallback_decides(mcp, sign, with_fallback, unreachable):
    live, revoked = sign(), sign()
    REVOKED.add(digest(revoked))
    assert echo(mcp, live).status_code == 200
    response = echo(mcp, revoked)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert echo(mcp, revoked).status_code == 401  # a cached verification changes nothing


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_without_the_shared_state_and_without_a_fallback_the_answer_is_503(
    mcp, sign, settings, unreachable, era
):
    settings.MCPSERVER = {**settings.MCPSERVER, "REVOCATION_FALLBACK": None}  # e.g. an external issuer
    if era == "legacy":
        response = mcp.legacy("tools/list", token=sign())
    else:
        response = mcp.modern("tools/list", token=sign())
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["error"] == {"code": -32000, "message": "Service temporarily unavailable; retry shortly"}
    assert body["id"] is None or isinstance(body["id"], int)


def test_sessions_need_the_cache_503_without_it(mcp, with_fallback, unreachable):
    response = mcp.legacy(
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
        headers={"MCP-Protocol-Version": None},
    )
    assert response.status_code == 503
    assert response.json()["id"] == mcp.counter  # the request's id when the body was read


def test_the_database_fallback_refuses_a_token_revoked_before_the_outage(mcp, issue, settings):
    from oauth2_provider.models import get_access_token_model

    live, revoked = issue(), issue()
    settings.MCPSERVER = {
        **settings.MCPSERVER,
        "REVOCATION_FALLBACK": "authserver.revoking.revoked_in_database",
    }
    get_access_token_model().objects.get(token_checksum=digest(revoked)).revoke()
    settings.CACHES, settings.SHARED_STATE = UNREACHABLE_REDIS, UNREACHABLE_STATE
    assert echo(mcp, live).status_code == 200
    assert echo(mcp, revoked).status_code == 401


def test_the_mcp_tests_run_with_the_production_fallback(mcp_settings):
    """Production's default (an in-process issuer) asks the issuer's database: so do these tests."""
    assert mcp_settings["REVOCATION_FALLBACK"] == "authserver.revoking.revoked_in_database"


def test_with_the_production_fallback_a_token_the_issuer_never_recorded_is_refused(mcp, sign):
    """A fresh deny-list cannot vouch for a token as old as itself; the issuer's records are asked,
    and a token they do not hold (revoked, or never issued) is refused while a recorded one passes."""
    assert echo(mcp, sign()).status_code == 200
    response = echo(mcp, sign(store=False))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_a_database_failing_under_the_embedded_lookup_is_an_outage(settings, db, monkeypatch, with_fallback):
    """The embedded back end's keys are in the database cache: a database that fails under the lookup
    raises Django's OperationalError, and the fallback answers."""
    from django.core.management import call_command
    from django.db import OperationalError

    settings.CACHES = DATABASE_CACHE
    settings.SHARED_STATE = {"BACKEND": "sharedstate.embedded.EmbeddedState"}
    call_command("createcachetable", verbosity=0)  # absent when the suite runs on Redis
    REVOKED.add("9" * 64)

    def broken(*args, **kwargs):
        raise OperationalError("disk I/O error")  # what Django makes of the driver's error

    with monkeypatch.context() as patch:
        patch.setattr(connection, "ensure_connection", broken)
        assert denylist.is_revoked("9" * 64) is True
        assert denylist.is_revoked("8" * 64) is False
    assert ASKED == ["9" * 64, "8" * 64]


# --- the deny-list starts over ---


def test_tokens_older_than_the_deny_list_are_asked_of_the_fallback_once(mcp, sign, with_fallback):
    sharedstate.delete(marker_key())  # a new, restarted or flushed shared state
    old, revoked_before = sign({"iat": int(time.time()) - 600}), sign({"iat": int(time.time()) - 600})
    REVOKED.add(digest(revoked_before))
    for _ in range(3):
        assert echo(mcp, old).status_code == 200
        assert echo(mcp, revoked_before).status_code == 401
    assert sorted(ASKED) == sorted([digest(old), digest(revoked_before)])  # once each
    assert isinstance(
        sharedstate.get(marker_key()), int
    )  # the deny-list's start is recorded for every process


def test_tokens_issued_after_the_deny_list_started_are_not_asked(mcp, sign, with_fallback):
    sharedstate.set(marker_key(), int(time.time()) - 3600, None)
    assert echo(mcp, sign()).status_code == 200
    assert ASKED == []


def test_a_new_start_of_the_deny_list_asks_again(mcp, sign, with_fallback):
    token = sign({"iat": int(time.time()) - 600})
    sharedstate.set(marker_key(), int(time.time()) - 300, None)
    assert echo(mcp, token).status_code == 200
    REVOKED.add(digest(token))  # revoked (written and announced), and the shared state restarted empty since
    revoke(digest(token))
    sharedstate.delete(deny_key(digest(token)))
    sharedstate.set(marker_key(), int(time.time()), None)
    assert echo(mcp, token).status_code == 401
    assert [digest(token), digest(token)] == ASKED


# --- the change feed, on each back end ---


class WithoutFeed(EmbeddedState):
    """The embedded back end on a database other hosts may share (PostgreSQL): keys, no feed. On
    SQLite this stands in for it."""

    def version(self, topic):
        return None


@pytest.fixture(params=["embedded", "redis", "none"])
def feed(request, settings, db):
    """The shared state on one back end: ``embedded`` (SQLite: the slots), ``redis`` (a key prefix of
    its own on db 13, subscribed) or ``none`` (no feed: every request looks up)."""
    from django.core.management import call_command

    if request.param == "redis":
        if not redis_available():
            pytest.skip("no Redis on 127.0.0.1:6379")
        settings.SHARED_STATE = {
            "BACKEND": "sharedstate.redis.RedisState",
            "LOCATION": REDIS,
            "KEY_PREFIX": uuid.uuid4().hex,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        deadline = time.monotonic() + 5
        while sharedstate.version(denylist.TOPIC) is None:  # it subscribes in a thread of its own
            assert time.monotonic() < deadline, "the change feed never came up"
            time.sleep(0.01)
    else:
        if request.param == "embedded" and connection.vendor != "sqlite":
            pytest.skip("the embedded change feed exists only on SQLite")
        settings.CACHES = DATABASE_CACHE
        call_command("createcachetable", verbosity=0)  # absent when the suite runs on Redis
        backend = "WithoutFeed" if request.param == "none" and connection.vendor == "sqlite" else None
        settings.SHARED_STATE = {
            "BACKEND": f"tests.mcpserver.test_denylist.{backend}"
            if backend
            else "sharedstate.embedded.EmbeddedState"
        }
        assert (sharedstate.version(denylist.TOPIC) is None) == (request.param == "none")
    denylist.forget()
    denylist.is_revoked("0" * 64)  # starts the deny-list (its marker)
    yield request.param
    sharedstate.clear()


def another_instance(feed: str):
    """What another instance's shared state is: for Redis a client of its own on the same keys and
    channel; for the embedded back end the same database cache (an in-memory test database has one
    process, so its feed is this process's own)."""
    from django.conf import settings

    if feed == "redis":
        config = settings.SHARED_STATE
        return RedisState(config["LOCATION"], key_prefix=config["KEY_PREFIX"], options=config["OPTIONS"])
    return EmbeddedState()


def announce_from(other) -> None:
    """The other instance announces a revocation. On Redis a round trip follows, standing for the
    writer's reply going back to its client and the next request coming in."""
    if isinstance(other, RedisState):
        other.announce(denylist.TOPIC)
        other.client.ping()
    else:
        sharedstate.backend().announce(denylist.TOPIC)


def lookups(monkeypatch) -> list[str]:
    """Every deny-list lookup from now on."""
    asked: list[str] = []
    lookup = denylist._lookup

    def counted(key, *names):
        asked.append(key)
        return lookup(key, *names)

    monkeypatch.setattr(denylist, "_lookup", counted)
    return asked


def test_a_clean_token_is_not_looked_up_again_while_no_revocation_is_announced(feed, monkeypatch):
    asked = lookups(monkeypatch)
    for _ in range(5):
        assert denylist.is_revoked("1" * 64) is False
    assert len(asked) == (5 if feed == "none" else 1)


def test_every_deny_list_write_is_announced_now_and_again_at_commit(feed, django_capture_on_commit_callbacks):
    from authserver import revoking

    if feed == "none":
        pytest.skip("no feed to announce on")

    def settled():
        if feed == "redis":
            sharedstate.backend().client.ping()  # the round trip a next request stands for
        return sharedstate.version(denylist.TOPIC)

    for write in (lambda: revoke("2" * 64), revoking.withdraw_keys):
        before = settled()
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            write()
        written = settled()
        assert written != before
        for callback in callbacks:
            callback()
        assert settled() != written


def test_a_revocation_is_seen_on_the_next_request(feed):
    assert denylist.is_revoked("2" * 64) is False
    revoke("2" * 64)
    assert denylist.is_revoked("2" * 64) is True
    assert denylist.is_revoked("3" * 64) is False  # other tokens stay clean


def test_a_revocation_by_another_instance_is_seen_on_the_next_request(feed, monkeypatch):
    """The entry is written first without the announcement: a remembered clean verdict still holds
    (with a feed); then the announcement arrives and the next request looks the token up."""
    other = another_instance(feed)
    asked = lookups(monkeypatch)
    assert denylist.is_revoked("4" * 64) is False
    other.set(deny_key("4" * 64), 1, 300)
    if feed != "none":
        assert denylist.is_revoked("4" * 64) is False  # nothing announced yet: still remembered clean
        assert len(asked) == 1
        announce_from(other)
    assert denylist.is_revoked("4" * 64) is True
    other.close()


def test_revocations_by_another_instance_are_refused_on_the_very_next_request(feed, monkeypatch):
    """Each token is found clean (and remembered), revoked elsewhere, then asked again at once."""
    other = another_instance(feed)
    asked = lookups(monkeypatch)
    for n in range(100):
        checksum = f"{n + 1:064x}"
        assert denylist.is_revoked(checksum) is False
        assert denylist.is_revoked(checksum) is False  # remembered (with a feed): no lookup
        other.set(deny_key(checksum), 1, 300)
        announce_from(other)
        assert denylist.is_revoked(checksum) is True, n
    # With a feed: one lookup when first seen, one after its revocation was announced.
    assert len(asked) == (300 if feed == "none" else 200)
    other.close()


def test_a_clean_verdict_is_looked_up_again_after_at_most_a_second(feed, monkeypatch):
    """Bound on what a writer that died between its commit and its announcement leaves behind."""
    asked = lookups(monkeypatch)
    assert denylist.is_revoked("5" * 64) is False
    assert denylist.is_revoked("5" * 64) is False
    now = time.monotonic()
    monkeypatch.setattr(denylist.time, "monotonic", lambda: now + denylist.CLEAN_FOR_SECONDS + 0.01)
    assert denylist.is_revoked("5" * 64) is False
    assert len(asked) == (3 if feed == "none" else 2)


def test_a_reset_of_the_shared_state_forgets_clean_verdicts(feed, monkeypatch):
    asked = lookups(monkeypatch)
    assert denylist.is_revoked("6" * 64) is False
    sharedstate.reset()
    if feed == "redis":  # a new client subscribes anew: no feed (every lookup made) until it is up
        while sharedstate.version(denylist.TOPIC) is None:
            time.sleep(0.01)
    assert denylist.is_revoked("6" * 64) is False
    assert len(asked) == 2


def test_a_revocation_made_while_the_redis_feed_was_cut_off_is_seen(feed):
    """The subscription is killed and a revocation announced before it is back: the closed connection
    means no feed, so the token is looked up (and the new subscription starts a new version)."""
    import redis

    if feed != "redis":
        pytest.skip("Redis's subscription")
    other = another_instance(feed)
    assert denylist.is_revoked("7" * 64) is False
    admin = redis.Redis.from_url(REDIS)
    database = REDIS.rsplit("/", 1)[1]
    subscribers = [client for client in admin.client_list(_type="pubsub") if client["db"] == database]
    for client in subscribers:  # only this test run subscribes on its database
        admin.client_kill_filter(_id=client["id"])
    assert subscribers
    other.set(deny_key("7" * 64), 1, 300)
    announce_from(other)  # reaches no subscriber of this process
    assert denylist.is_revoked("7" * 64) is True
    assert denylist.is_revoked("7" * 64) is True
    assert denylist.is_revoked("8" * 64) is False
    other.close()
    admin.close()


def test_a_flushed_shared_state_sends_older_tokens_to_the_fallback(feed, mcp, sign, with_fallback):
    """Redis restarted empty or flushed, the database cache cleared: the deny-list forgot ``revoked``,
    and its marker went with it. The marker is made anew at the next lookup, and tokens issued before
    it are asked of the issuer's records, so ``revoked`` stays refused."""
    sharedstate.set(marker_key(), int(time.time()) - 3600, None)  # running for an hour
    issued = int(time.time()) - 600
    kept, revoked = sign({"iat": issued}), sign({"iat": issued})
    REVOKED.add(digest(revoked))
    revoke(digest(revoked))
    assert echo(mcp, kept).status_code == 200
    assert echo(mcp, revoked).status_code == 401
    assert ASKED == []  # issued after the deny-list started: it answers alone
    if feed == "redis":
        import redis

        redis.Redis.from_url(REDIS).flushdb()  # no announcement: a flush is no revocation
    else:
        sharedstate.clear()
    assert echo(mcp, revoked).status_code == 401
    assert [digest(revoked)] == ASKED
    since = sharedstate.get(marker_key())
    assert isinstance(since, int) and since > issued
    assert echo(mcp, revoked).status_code == 401
    assert echo(mcp, kept).status_code == 200
    assert ASKED.count(digest(revoked)) == 1  # once per process and marker
    assert sharedstate.get(deny_key(digest(revoked))) is None  # the fallback answered, nothing rewritten


# --- keys withdrawn by the issuer ---


def test_a_key_withdrawal_reaches_the_next_lookup(feed):
    """``auth`` reloads its keys when ``keys_withdrawn()`` moves: the value must be current on the
    request after a withdrawal, even for a token remembered clean."""
    from authserver import revoking

    assert denylist.is_revoked("a" * 64) is False
    assert denylist.keys_withdrawn() is None
    revoking.withdraw_keys()
    if feed == "redis":
        sharedstate.backend().client.ping()
    assert denylist.is_revoked("a" * 64) is False
    first = denylist.keys_withdrawn()
    assert isinstance(first, int) and first == sharedstate.get(deny_key(revoking.KEYS_WITHDRAWN))
    revoking.withdraw_keys()
    if feed == "redis":
        sharedstate.backend().client.ping()
    assert denylist.is_revoked("a" * 64) is False
    assert denylist.keys_withdrawn() not in {None, first}

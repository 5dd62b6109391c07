"""The deny-list lookup when the cache fails: the fallback answers, or the request gets a 503.

Also: a deny-list that starts over (a new, restarted or flushed cache) sends tokens issued before
it to the fallback, once per process.
"""

from __future__ import annotations

import hashlib
import time

import pytest

from mcpserver import denylist

# A Redis nobody listens on: every command fails at once with "connection refused".
UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
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
    denylist._verdicts.clear()
    settings.MCPSERVER = {**settings.MCPSERVER, "REVOCATION_FALLBACK": FALLBACK}
    yield
    denylist._verdicts.clear()


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def echo(mcp, token: str):
    return mcp.legacy("tools/call", {"name": "echo", "arguments": {"message": "hi"}}, token=token)


# --- the cache is unreachable ---


def test_without_the_cache_the_fallback_decides(mcp, sign, with_fallback, settings):
    live, revoked = sign(), sign()
    REVOKED.add(digest(revoked))
    settings.CACHES = UNREACHABLE_REDIS
    assert echo(mcp, live).status_code == 200
    response = echo(mcp, revoked)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert echo(mcp, revoked).status_code == 401  # a cached verification changes nothing


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_without_the_cache_and_without_a_fallback_the_answer_is_503(mcp, sign, settings, era):
    settings.MCPSERVER = {**settings.MCPSERVER, "REVOCATION_FALLBACK": None}  # e.g. an external issuer
    settings.CACHES = UNREACHABLE_REDIS
    if era == "legacy":
        response = mcp.legacy("tools/list", token=sign())
    else:
        response = mcp.modern("tools/list", token=sign())
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["error"] == {"code": -32000, "message": "Service temporarily unavailable; retry shortly"}
    assert body["id"] is None or isinstance(body["id"], int)


def test_sessions_need_the_cache_503_without_it(mcp, with_fallback, settings):
    from tests.helpers import UNREACHABLE_STATE

    settings.CACHES = UNREACHABLE_REDIS
    settings.SHARED_STATE = UNREACHABLE_STATE  # where the sessions live
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
    settings.CACHES = UNREACHABLE_REDIS
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


# --- the deny-list starts over ---


def test_tokens_older_than_the_deny_list_are_asked_of_the_fallback_once(mcp, sign, with_fallback, settings):
    from django.core.cache import cache

    marker = settings.TOKEN_REVOCATION_PREFIX + denylist.MARKER
    cache.delete(marker)  # a new, restarted or flushed cache
    old, revoked_before = sign({"iat": int(time.time()) - 600}), sign({"iat": int(time.time()) - 600})
    REVOKED.add(digest(revoked_before))
    for _ in range(3):
        assert echo(mcp, old).status_code == 200
        assert echo(mcp, revoked_before).status_code == 401
    assert sorted(ASKED) == sorted([digest(old), digest(revoked_before)])  # once each
    assert isinstance(cache.get(marker), int)  # the deny-list's start is recorded for every process


def test_tokens_issued_after_the_deny_list_started_are_not_asked(mcp, sign, with_fallback, settings):
    from django.core.cache import cache

    cache.set(settings.TOKEN_REVOCATION_PREFIX + denylist.MARKER, int(time.time()) - 3600, timeout=None)
    assert echo(mcp, sign()).status_code == 200
    assert ASKED == []


def test_a_new_start_of_the_deny_list_asks_again(mcp, sign, with_fallback, settings):
    from django.core.cache import cache

    marker = settings.TOKEN_REVOCATION_PREFIX + denylist.MARKER
    token = sign({"iat": int(time.time()) - 600})
    cache.set(marker, int(time.time()) - 300, timeout=None)
    assert echo(mcp, token).status_code == 200
    REVOKED.add(digest(token))  # revoked, and the cache restarted empty since
    cache.set(marker, int(time.time()), timeout=None)
    assert echo(mcp, token).status_code == 401
    assert [digest(token), digest(token)] == ASKED


# --- the pipelined replies ---


@pytest.mark.parametrize(
    ("reply", "parsed"),
    [
        (b":0\r\n$-1\r\n", (False, None)),
        (b":1\r\n$-1\r\n", (True, None)),
        (b":0\r\n$10\r\n1764324000\r\n", (False, b"1764324000")),
        (b":0\r\n$10\r\n17643", None),
        (b":1\r", None),
        (b":0\r\n$-1", None),
    ],
)
def test_replies_are_read_until_complete(reply, parsed):
    assert denylist._parse(reply, 1) == parsed


@pytest.mark.parametrize(
    ("reply", "parsed"),
    [
        (b":0\r\n$-1\r\n$-1\r\n", (False, None, None)),
        (b":1\r\n$10\r\n1764324000\r\n$-1\r\n", (True, b"1764324000", None)),
        (b":0\r\n$-1\r\n$3\r\n123\r\n", (False, None, b"123")),
        (b":0\r\n$2\r\n12\r\n$3\r\n12", None),
        (b":0\r\n$-1\r\n", None),
    ],
)
def test_the_marker_and_the_withdrawn_keys_value_come_in_one_reply(reply, parsed):
    assert denylist._parse(reply, 2) == parsed


@pytest.mark.parametrize(
    ("reply", "values"),
    [
        (b"-ERR nope\r\n", 1),
        (b":0\r\n$2\r\n123\r\n", 1),
        (b":1\r\n+OK\r\n", 1),
        (b":0\r\n$-1\r\nx", 1),
        (b":0\r\n$-1\r\n$-1\r\nx", 2),
        (b":0\r\n$-1\r\n-ERR\r\n", 2),
    ],
)
def test_odd_replies_raise(reply, values):
    with pytest.raises(ConnectionError):
        denylist._parse(reply, values)


def test_failed_lookups_do_not_use_up_the_cache_clients_connection_pool(with_fallback, settings):
    """Each failure drops this thread's kept connection; its replacement must not come out of the
    pool's max_connections, or Django's own cache client would be refused once Redis is back."""
    from django.core.cache import caches

    settings.CACHES = UNREACHABLE_REDIS
    pool = caches["default"]._cache._get_connection_pool(False)
    for _ in range(pool.max_connections + 5):
        assert denylist.is_revoked("f" * 64) is False  # answered by the fallback
    assert pool._created_connections < pool.max_connections


# --- the database cache (the embedded default): one query of our own on Django's cache table ---

DATABASE_CACHE = {
    "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "authserver_cache"}
}


@pytest.fixture
def database_cache(settings, db):
    settings.CACHES = DATABASE_CACHE
    from django.core.cache import cache
    from django.core.management import call_command

    call_command("createcachetable", verbosity=0)  # absent when the suite runs on Redis
    cache.clear()
    yield cache
    cache.clear()


def test_database_cache_lookup_agrees_with_djangos_cache(database_cache, settings):
    from django.utils import timezone

    from authserver import revoking

    prefix = settings.TOKEN_REVOCATION_PREFIX
    names = (prefix + denylist.MARKER, prefix + denylist.KEYS_WITHDRAWN)
    assert denylist._database_lookup(prefix + "a" * 64, *names) == (False, None, None)
    assert denylist.is_revoked("a" * 64) is False  # starts the deny-list: the marker is written
    since = database_cache.get(prefix + denylist.MARKER)
    assert isinstance(since, int)
    revoking.deny("a" * 64, timezone.now() + timezone.timedelta(minutes=5))
    assert denylist._database_lookup(prefix + "a" * 64, *names) == (True, since, None)
    revoking.withdraw_keys()
    withdrawn = database_cache.get(prefix + denylist.KEYS_WITHDRAWN)
    assert isinstance(withdrawn, int)
    assert denylist._database_lookup(prefix + "a" * 64, *names) == (True, since, withdrawn)
    assert denylist.is_revoked("a" * 64) is True
    assert denylist.is_revoked("b" * 64) is False


def test_database_cache_lookup_ignores_expired_rows(database_cache, settings):
    """Django's cache treats a row past ``expires`` as absent (culled later); so does the lookup."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    key = settings.TOKEN_REVOCATION_PREFIX + "c" * 64
    database_cache.set(key, 1, timeout=60)
    assert denylist.is_revoked("c" * 64) is True
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE authserver_cache SET expires = %s WHERE cache_key = %s",
            [
                connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(seconds=1)),
                database_cache.make_key(key),
            ],
        )
    assert database_cache.get(key) is None
    assert denylist.is_revoked("c" * 64) is False


def test_database_cache_lookup_respects_the_key_prefix(database_cache, settings):
    """Another deployment sharing the table (another KEY_PREFIX) does not revoke our tokens."""
    settings.CACHES = {"default": {**DATABASE_CACHE["default"], "KEY_PREFIX": "other"}}
    from django.core.cache import cache

    cache.set(settings.TOKEN_REVOCATION_PREFIX + "f" * 64, 1, timeout=60)
    settings.CACHES = DATABASE_CACHE
    assert denylist.is_revoked("f" * 64) is False


def test_database_cache_outage_is_an_outage(database_cache, settings, monkeypatch, with_fallback):
    """A database that fails under the lookup raises Django's OperationalError: the fallback answers."""
    from django.db import connection

    REVOKED.add("9" * 64)

    def broken(*args, **kwargs):
        raise connection.Database.OperationalError("disk I/O error")

    with monkeypatch.context() as patch:
        patch.setattr(connection, "ensure_connection", broken)
        assert denylist.is_revoked("9" * 64) is True
    assert ASKED == ["9" * 64]


# --- the change stamp (config.cache.DatabaseCache on SQLite): clean tokens are not looked up again ---


@pytest.fixture
def stamped_cache(settings, db):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the change stamp exists only for SQLite")
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.DatabaseCache",
            "LOCATION": "authserver_cache",
            "OPTIONS": {"WATCHED_PREFIXES": [settings.TOKEN_REVOCATION_PREFIX]},
        }
    }
    from django.core.cache import cache
    from django.core.management import call_command

    call_command("createcachetable", verbosity=0)
    cache.clear()
    denylist.forget()
    denylist.is_revoked("0" * 64)  # starts the deny-list (its marker is a write: a stamp change)
    yield cache
    cache.clear()
    denylist.forget()


def lookups(monkeypatch) -> list[str]:
    """Every deny-list lookup from now on (the database one runs on the driver's cursor, which
    Django's query capture does not see)."""
    asked: list[str] = []
    lookup = denylist._lookup

    def counted(key, *names):
        asked.append(key)
        return lookup(key, *names)

    monkeypatch.setattr(denylist, "_lookup", counted)
    return asked


def test_a_clean_token_is_not_looked_up_again_while_the_stamp_holds(stamped_cache, monkeypatch):
    asked = lookups(monkeypatch)
    assert denylist.is_revoked("1" * 64) is False
    assert denylist.is_revoked("1" * 64) is False
    assert denylist.is_revoked("1" * 64) is False
    assert len(asked) == 1


def test_a_revocation_is_seen_on_the_next_request(stamped_cache):
    from django.utils import timezone

    from authserver import revoking

    assert denylist.is_revoked("2" * 64) is False
    revoking.deny("2" * 64, timezone.now() + timezone.timedelta(minutes=5))
    assert denylist.is_revoked("2" * 64) is True
    assert denylist.is_revoked("3" * 64) is False  # other tokens stay clean


def test_a_revocation_by_another_process_is_seen_on_the_next_request(stamped_cache, settings, monkeypatch):
    """Another process writes the row and changes the stamp: simulated with the row written behind
    this process's back (raw SQL, no stamp change) and the stamp changed as its writer would."""
    from django.db import connection
    from django.utils import timezone

    asked = lookups(monkeypatch)
    assert denylist.is_revoked("4" * 64) is False
    key = stamped_cache.make_key(settings.TOKEN_REVOCATION_PREFIX + "4" * 64)
    expires = connection.ops.adapt_datetimefield_value(timezone.now() + timezone.timedelta(minutes=5))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO authserver_cache (cache_key, value, expires) VALUES (%s, %s, %s)",
            [key, "gAVLAS4=", expires],  # pickle of 1, base64: what Django's database cache stores
        )
    assert denylist.is_revoked("4" * 64) is False  # stamp unchanged: still remembered clean
    assert len(asked) == 1
    stamped_cache.change_stamp(settings.TOKEN_REVOCATION_PREFIX).change()
    assert denylist.is_revoked("4" * 64) is True


def test_a_clean_verdict_is_looked_up_again_after_at_most_a_second(stamped_cache, settings, monkeypatch):
    """Bound on what a writer that died between its commit and the stamp change leaves behind."""
    asked = lookups(monkeypatch)
    assert denylist.is_revoked("5" * 64) is False
    now = time.monotonic()
    monkeypatch.setattr(denylist.time, "monotonic", lambda: now + denylist.CLEAN_FOR_SECONDS + 0.01)
    assert denylist.is_revoked("5" * 64) is False
    assert len(asked) == 2


# --- the change stamp on Redis (config.cache.RedisCache): Redis's invalidation messages ---


@pytest.fixture
def tracked_cache(settings, mcp_settings):
    from tests.helpers import redis_available

    if not redis_available():
        pytest.skip("no Redis on 127.0.0.1:6379")
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
            "KEY_PREFIX": "tracked-test",
            "OPTIONS": {"WATCHED_PREFIXES": [settings.TOKEN_REVOCATION_PREFIX]},
        }
    }
    from django.core.cache import cache

    cache.clear()
    denylist.forget()
    denylist.is_revoked("0" * 64)  # starts the deny-list (its marker)
    stamp = cache.change_stamp(settings.TOKEN_REVOCATION_PREFIX)
    deadline = time.monotonic() + 5
    while stamp.read() is None:  # its connection is made by a thread of its own
        assert time.monotonic() < deadline
        time.sleep(0.01)
    yield cache
    if stamp._connection is not None:
        stamp._disconnect()
    cache.clear()
    denylist.forget()


def another_instance_revokes(cache, settings, checksum: str) -> None:
    """What another instance's revocation writes, through a Redis connection of its own."""
    import redis

    redis.Redis.from_url("redis://127.0.0.1:6379/15").set(
        cache.make_key(settings.TOKEN_REVOCATION_PREFIX + checksum), 1, ex=300
    )


def test_on_redis_a_clean_token_is_not_looked_up_again_while_no_write_is_announced(
    tracked_cache, monkeypatch
):
    asked = lookups(monkeypatch)
    for _ in range(5):
        assert denylist.is_revoked("1" * 64) is False
    assert len(asked) == 1


def test_on_redis_a_revocation_by_another_instance_is_refused_on_the_very_next_request(
    tracked_cache, settings, monkeypatch
):
    """Each token is found clean (and remembered), revoked elsewhere, then asked again at once."""
    asked = lookups(monkeypatch)
    for n in range(100):
        checksum = f"{n:064x}"
        assert denylist.is_revoked(checksum) is False
        assert denylist.is_revoked(checksum) is False  # remembered: no lookup
        another_instance_revokes(tracked_cache, settings, checksum)
        assert denylist.is_revoked(checksum) is True, n
    assert len(asked) == 200  # one lookup when first seen, one after its revocation was announced


def test_on_redis_a_revocation_through_the_authorization_server_is_seen(tracked_cache):
    from django.utils import timezone

    from authserver import revoking

    assert denylist.is_revoked("2" * 64) is False
    revoking.deny("2" * 64, timezone.now() + timezone.timedelta(minutes=5))
    assert denylist.is_revoked("2" * 64) is True
    assert denylist.is_revoked("3" * 64) is False


def test_on_redis_a_revocation_made_while_the_messages_were_cut_off_is_seen(tracked_cache, settings):
    """The stamp's connection is killed and a revocation written before it is back: the closed
    connection means no stamp, so the token is looked up (and the reconnection starts a new value)."""
    import redis

    assert denylist.is_revoked("4" * 64) is False
    stamp = tracked_cache.change_stamp(settings.TOKEN_REVOCATION_PREFIX)
    redis.Redis.from_url("redis://127.0.0.1:6379/15").client_kill_filter(_id=stamp.client_id)
    another_instance_revokes(tracked_cache, settings, "4" * 64)
    assert denylist.is_revoked("4" * 64) is True
    assert denylist.is_revoked("4" * 64) is True
    assert denylist.is_revoked("5" * 64) is False

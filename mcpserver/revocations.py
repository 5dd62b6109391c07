"""The revocation deny-list lookup: is this token's SHA-256 in the shared cache? Asked on every request.

The authorization server writes revoked tokens' checksums under ``TOKEN_REVOCATION_PREFIX``; every
worker and instance reads the same cache, so a revoked token is refused on its very next request.

Two things can make the cache an unreliable witness, and ``REVOCATION_FALLBACK`` (a dotted path to a
callable taking the checksum and answering "revoked?" from the issuer's own records) covers both:

- the cache is unreachable: the fallback answers instead; without one, the outage propagates and the
  request gets a 503 rather than accepting a token that may be revoked;
- the cache restarted empty or was flushed, forgetting revocations: a marker that never expires holds
  when the deny-list was (re)started, and a token issued before then is asked of the fallback once
  per process; revocations after that reach the cache again.

Where the cache offers a *change stamp* for the deny-list's prefix (``config.cache.DatabaseCache`` on
SQLite: eight bytes shared by the host's processes, rewritten after every deny-list write commits;
``config.cache.RedisCache``: moved on by Redis's invalidation messages for the prefix), a token found
clean is not looked up again while the stamp stays as it was when the lookup began, for at most
``CLEAN_FOR_SECONDS`` (a bound on what a writer that died between its commit and the stamp could
leave behind). A stamp that reads None is unavailable for now: every lookup is made.
"""

from __future__ import annotations

import base64
import functools
import logging
import pickle
import threading
import time
from collections import OrderedDict
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.db import connections, router
from django.utils import timezone
from django.utils.module_loading import import_string

from . import conf
from .exceptions import OUTAGES

logger = logging.getLogger(__name__)

MARKER = "deny-list-since"  # under the revocation prefix: when this cache's deny-list started
WARNING_INTERVAL = 10.0  # seconds between two warnings about the same outage, per process

CLEAN_FOR_SECONDS = 1.0

_redis = threading.local()
_clean: dict[str, tuple[bytes, float]] = {}  # digest -> (change stamp, until when) of a clean lookup
_stamps: dict[str, Any] = {}  # prefix -> the cache's change stamp for it, or None; looked up once
_verdicts: OrderedDict[str, tuple[int, bool]] = OrderedDict()  # digest -> (marker, revoked) from the fallback
_lock = threading.Lock()
_warned = {"at": float("-inf")}


def _redis_connection() -> Any:
    """This thread's own connection to Django's RedisCache server, or None for another backend.

    Django's RedisCache builds a client object per call and redis-py checks a connection out of its
    pool per command; on the hot path one kept connection per thread costs a third of that.
    """
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(backend, RedisCache):
        return None
    raw = backend._cache
    if getattr(_redis, "raw", None) is not raw or _redis.connection is None:
        # Not pool.make_connection(): the pool counts what it made against its max_connections and
        # this connection never goes back; one made after each failure would use the pool up and
        # leave Django's own cache client with "Too many connections" after an outage.
        pool = raw._get_connection_pool(False)
        _redis.raw, _redis.connection = raw, pool.connection_class(**pool.connection_kwargs)
    return _redis.connection


_EXISTS_REPLIES = {b":0\r\n": False, b":1\r\n": True}


def _command(*parts: bytes) -> bytes:
    """One RESP command: an array of bulk strings."""
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in parts)


@functools.lru_cache(maxsize=8)
def _get_command(name: str) -> bytes:
    """``GET name`` (the marker's name is ours and fixed: built once, never validated again)."""
    return _command(b"GET", name.encode())


def _parse(reply: bytes) -> tuple[bool, bytes | None] | None:
    """The replies to ``EXISTS key`` and ``GET marker``, or None while incomplete; anything odd raises."""
    exists = _EXISTS_REPLIES.get(reply[:4])
    if exists is None:
        if len(reply) >= 4:
            raise ConnectionError(f"unexpected reply to EXISTS: {reply[:64]!r}")
        return None
    head, crlf, body = reply[4:].partition(b"\r\n")
    if not crlf:
        return None
    if head == b"$-1" and not body:
        return exists, None
    size = int(head[1:]) if head[:1] == b"$" and head[1:].isdigit() and len(head) < 8 else -1
    if size < 0 or len(body) > size + 2:
        raise ConnectionError(f"unexpected reply to GET: {reply[:64]!r}")
    return (exists, body[:size]) if len(body) == size + 2 else None


def _redis_lookup(key: str, marker: str) -> tuple[bool, bytes | None] | None:
    """EXISTS and GET pipelined on this thread's connection; None when Redis is not the cache.

    The commands are written to the connected socket as RESP directly (the connection did AUTH,
    SELECT and TLS when it connected): redis-py's command and parser layers cost ~40 µs of CPU
    per request here, the round trip itself ~7 µs. Anything unexpected drops the connection.
    """
    connection = _redis_connection()
    if connection is None:
        return None
    name = cache.make_key(key).encode()  # our own prefix and a hex digest: nothing to validate
    try:
        if connection._sock is None:
            connection.connect()
        sock = connection._sock
        sock.sendall(_command(b"EXISTS", name) + _get_command(cache.make_key(marker)))
        reply, parsed = b"", None
        while parsed is None and len(reply) < 128:
            chunk = sock.recv(128)
            if not chunk:
                raise ConnectionError("Redis closed the connection")
            reply += chunk
            parsed = _parse(reply)
        if parsed is None:
            raise ConnectionError(f"unexpected reply: {reply[:64]!r}")
        return parsed
    except Exception:
        connection.disconnect()
        _redis.connection = None
        raise


@functools.lru_cache(maxsize=8)
def _select(vendor: str, table: str) -> str:
    """The deny-list query on the database cache's (quoted) table: both keys, unexpired rows only."""
    mark = "?" if vendor == "sqlite" else "%s"  # the driver's own paramstyle: no Django cursor here
    return (
        f"SELECT cache_key, value FROM {table} "  # noqa: S608  (the table is the cache's own setting)
        f"WHERE cache_key IN ({mark}, {mark}) AND expires > {mark}"
    )


@functools.lru_cache(maxsize=64)
def _unpickle(value: str) -> Any:
    return pickle.loads(base64.b64decode(value.encode()))  # noqa: S301  (our own cache's rows)


def _database_lookup(key: str, marker: str) -> tuple[bool, Any] | None:
    """Both keys from Django's database cache in one query on the driver's own connection; None when
    the cache is another backend.

    ``DatabaseCache.get_many`` costs ~45 µs of CPU per call here (key validation, router, a model
    field built for its converters, Django's cursor wrappers); this query ~15 µs. Same table, same
    keys (``make_key``) and the same expiry rule as Django's own cull (``expires`` against now,
    adapted by the backend); errors are converted to Django's (an outage is an OperationalError).
    """
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(backend, DatabaseCache):
        return None
    connection = connections[router.db_for_read(backend.cache_model_class)]
    names = (backend.make_key(key), backend.make_key(marker))  # prefix + hex digest: valid by construction
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.wrap_database_errors:
        connection.close_if_health_check_failed()
        connection.ensure_connection()
        cursor = connection.connection.cursor()
        try:
            cursor.execute(_select(connection.vendor, connection.ops.quote_name(backend._table)), (*names, now))
            rows = dict(cursor.fetchall())
        finally:
            cursor.close()
    since = rows.get(names[1])
    return names[0] in rows, _unpickle(since) if since is not None else None


def _lookup(key: str, marker: str) -> tuple[bool, int | None]:
    """Whether ``key`` is on the deny-list, and the marker's value: one cache round trip."""
    database = _database_lookup(key, marker)
    if database is not None:
        denied, since = database
        return denied, since if isinstance(since, int) else None
    try:
        found = _redis_lookup(key, marker)
    except OUTAGES:  # refused or timed out: another client would only fail (or wait) once more
        raise
    except Exception:  # one retry through Django's own client, which reconnects (or fails loudly)
        found = None
        logger.debug("Revocation lookup on the kept Redis connection failed; retrying", exc_info=True)
    if found is not None and (found[1] is None or found[1].isdigit()):
        return found[0], int(found[1]) if found[1] is not None else None
    values = cache.get_many([key, marker])
    since = values.get(marker)
    return key in values, since if isinstance(since, int) else None


def _fallback() -> Any:
    path = conf.get("REVOCATION_FALLBACK")
    return _load(path) if path else None


@functools.lru_cache(maxsize=8)
def _load(path: str) -> Any:
    return import_string(path)


def _warn(message: str) -> None:
    """Log an outage once in a while, not on every request it touches."""
    now = time.monotonic()
    if now - _warned["at"] >= WARNING_INTERVAL:
        _warned["at"] = now
        logger.warning(message)


def _ask_fallback(digest: str, since: int) -> bool:
    """The fallback's verdict for a token the deny-list may have forgotten, kept per marker."""
    with _lock:
        verdict = _verdicts.get(digest)
    if verdict is not None and verdict[0] == since:
        return verdict[1]
    revoked = bool(_fallback()(digest))
    with _lock:
        _verdicts[digest] = (since, revoked)
        while len(_verdicts) > conf.get("TOKEN_CACHE_SIZE"):
            _verdicts.popitem(last=False)
    return revoked


def _restarted(marker: str) -> int:
    """Record that the deny-list (re)starts now, unless another process just did; return when."""
    now = int(time.time())
    if cache.add(marker, now, timeout=None):
        _warn("The revocation deny-list starts now (a new or emptied cache): older tokens are checked")
        return now
    since = cache.get(marker)
    return since if isinstance(since, int) else now


def forget() -> None:
    """Forget every remembered verdict and stamp (tests, key rotation drills, changed settings)."""
    _clean.clear()
    _stamps.clear()
    with _lock:
        _verdicts.clear()


def _forget_on_change(setting: str, **kwargs: Any) -> None:
    if setting in {"CACHES", "DATABASES", "MCPSERVER", "TOKEN_REVOCATION_PREFIX"}:
        forget()


setting_changed.connect(_forget_on_change, dispatch_uid="mcpserver-revocations")


def _change_stamp(prefix: str) -> Any:
    """The cache's change stamp for the deny-list's keys, or None (the cache offers none)."""
    try:
        return _stamps[prefix]
    except KeyError:
        stamps = getattr(caches[DEFAULT_CACHE_ALIAS], "change_stamp", None)
        stamp = _stamps[prefix] = stamps(prefix) if stamps is not None else None
        return stamp


def is_revoked(digest: str, issued_at: int | None = None) -> bool:
    """Whether this token has been revoked. ``issued_at`` (the ``iat`` claim) lets a token that is older
    than the deny-list be checked against the fallback; without it the deny-list alone answers."""
    prefix = conf.revocation_prefix()
    stamp = _change_stamp(prefix)
    # Read before the lookup: a write that the lookup misses changes it afterwards. None: no stamp
    # here, or none for now (its Redis connection is down).
    seen = stamp.read() if stamp is not None else None
    if seen is None:
        return _is_revoked(prefix, digest, issued_at)
    clean = _clean.get(digest)
    if clean is not None and clean[0] == seen and time.monotonic() < clean[1]:
        return False
    if _is_revoked(prefix, digest, issued_at):
        _clean.pop(digest, None)
        return True
    if len(_clean) >= conf.get("TOKEN_CACHE_SIZE"):
        _clean.clear()
    _clean[digest] = (seen, time.monotonic() + CLEAN_FOR_SECONDS)
    return False


def _is_revoked(prefix: str, digest: str, issued_at: int | None) -> bool:
    marker = prefix + MARKER
    try:
        denied, since = _lookup(prefix + digest, marker)
    except OUTAGES as exc:
        fallback = _fallback()
        if fallback is None:
            raise
        _warn(f"The shared cache is unreachable ({type(exc).__name__}): the fallback answers for it")
        return bool(fallback(digest))
    if denied:
        return True
    if since is None:
        since = _restarted(marker)
    if issued_at is None or issued_at >= since + conf.get("LEEWAY_SECONDS") or _fallback() is None:
        return False
    return _ask_fallback(digest, since)

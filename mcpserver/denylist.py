"""The deny-list, the resource server's side: reads whether a token's SHA-256 is on it, on every request.

The authorization server (``authserver.revoking`` in this project) writes revoked tokens' checksums
under ``TOKEN_REVOCATION_PREFIX``; every worker and instance reads the same cache, so a revoked token
is refused on its very next request.

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

The same lookup reads ``KEYS_WITHDRAWN`` under the prefix: the issuer changes it whenever it withdraws
a verifying key (retired as compromised), which also moves the stamp. ``keys_withdrawn()`` is the
last value seen; ``auth`` reloads its keys when it differs from the one its keys were loaded under.
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

from observability.outages import OUTAGES

from . import conf

logger = logging.getLogger(__name__)

MARKER = "deny-list-since"  # under the revocation prefix: when this cache's deny-list started
KEYS_WITHDRAWN = "keys-withdrawn"  # under the prefix: the issuer changes it when it withdraws a key
WARNING_INTERVAL = 10.0  # seconds between two warnings about the same outage, per process

CLEAN_FOR_SECONDS = 1.0

_redis = threading.local()
_clean: dict[str, tuple[bytes, float]] = {}  # digest -> (change stamp, until when) of a clean lookup
_stamps: dict[str, Any] = {}  # prefix -> the cache's change stamp for it, or None; looked up once
_verdicts: OrderedDict[str, tuple[int, bool]] = OrderedDict()  # digest -> (marker, revoked) from the fallback
_lock = threading.Lock()
_warned = {"at": float("-inf")}
_withdrawn: dict[str, Any] = {"seen": None}  # KEYS_WITHDRAWN's value at the last lookup


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
def _get_command(*names: str) -> bytes:
    """``GET name`` for each name (the names are ours and fixed: built once, never validated again)."""
    return b"".join(_command(b"GET", name.encode()) for name in names)


def _bulk(reply: bytes, start: int) -> tuple[bytes | None, int] | None:
    """The RESP bulk string (None: nil) at ``start`` and where the next reply starts; None if incomplete."""
    head, crlf, rest = reply[start:].partition(b"\r\n")
    if not crlf:
        if len(head) > 12:
            raise ConnectionError(f"unexpected reply to GET: {reply[:64]!r}")
        return None
    if head == b"$-1":
        return None, start + len(head) + 2
    size = int(head[1:]) if head[:1] == b"$" and head[1:].isdigit() and len(head) < 8 else -1
    if size < 0 or (len(rest) >= size + 2 and rest[size : size + 2] != b"\r\n"):
        raise ConnectionError(f"unexpected reply to GET: {reply[:64]!r}")
    return (rest[:size], start + len(head) + 4 + size) if len(rest) >= size + 2 else None


def _parse(reply: bytes, values: int = 2) -> tuple[bool, ...] | None:
    """The replies to ``EXISTS key`` and ``values`` GETs, or None while incomplete; anything odd raises."""
    exists = _EXISTS_REPLIES.get(reply[:4])
    if exists is None:
        if len(reply) >= 4:
            raise ConnectionError(f"unexpected reply to EXISTS: {reply[:64]!r}")
        return None
    found, at = [], 4
    for _ in range(values):
        bulk = _bulk(reply, at)
        if bulk is None:
            return None
        found.append(bulk[0])
        at = bulk[1]
    if at != len(reply):
        raise ConnectionError(f"unexpected data after the replies: {reply[:64]!r}")
    return (exists, *found)


def _redis_lookup(key: str, *names: str) -> tuple[bool, ...] | None:
    """EXISTS ``key`` and GET each name, pipelined on this thread's connection; None when Redis is not
    the cache.

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
        sock.sendall(_command(b"EXISTS", name) + _get_command(*(cache.make_key(each) for each in names)))
        reply, parsed = b"", None
        while parsed is None and len(reply) < 256:
            chunk = sock.recv(256)
            if not chunk:
                raise ConnectionError("Redis closed the connection")
            reply += chunk
            parsed = _parse(reply, len(names))
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
        f"WHERE cache_key IN ({mark}, {mark}, {mark}) AND expires > {mark}"
    )


@functools.lru_cache(maxsize=64)
def _unpickle(value: str) -> Any:
    return pickle.loads(base64.b64decode(value.encode()))  # noqa: S301  (our own cache's rows)


def _database_lookup(key: str, marker: str, withdrawn: str) -> tuple[bool, Any, Any] | None:
    """The three keys from Django's database cache in one query on the driver's own connection; None when
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
    # Our prefix plus a hex digest or a fixed name: valid by construction.
    names = (backend.make_key(key), backend.make_key(marker), backend.make_key(withdrawn))
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
    since, moved = (_unpickle(rows[name]) if name in rows else None for name in names[1:])
    return names[0] in rows, since, moved


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _lookup(key: str, marker: str, withdrawn: str) -> tuple[bool, int | None, int | None]:
    """Whether ``key`` is on the deny-list, the marker's value and ``KEYS_WITHDRAWN``'s: one round trip."""
    database = _database_lookup(key, marker, withdrawn)
    if database is not None:
        return database[0], _int(database[1]), _int(database[2])
    try:
        found = _redis_lookup(key, marker, withdrawn)
    except OUTAGES:  # refused or timed out: another client would only fail (or wait) once more
        raise
    except Exception:  # one retry through Django's own client, which reconnects (or fails loudly)
        found = None
        logger.debug("Revocation lookup on the kept Redis connection failed; retrying", exc_info=True)
    if found is not None and all(value is None or value.isdigit() for value in found[1:]):
        return found[0], *(int(value) if value is not None else None for value in found[1:])
    values = cache.get_many([key, marker, withdrawn])
    return key in values, _int(values.get(marker)), _int(values.get(withdrawn))


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
    _withdrawn["seen"] = None
    with _lock:
        _verdicts.clear()


def _forget_on_change(setting: str, **kwargs: Any) -> None:
    if setting in {"CACHES", "DATABASES", "MCPSERVER", "TOKEN_REVOCATION_PREFIX"}:
        forget()


setting_changed.connect(_forget_on_change, dispatch_uid="mcpserver-denylist")


def _change_stamp(prefix: str) -> Any:
    """The cache's change stamp for the deny-list's keys, or None (the cache offers none)."""
    try:
        return _stamps[prefix]
    except KeyError:
        stamps = getattr(caches[DEFAULT_CACHE_ALIAS], "change_stamp", None)
        stamp = _stamps[prefix] = stamps(prefix) if stamps is not None else None
        return stamp


def keys_withdrawn() -> int | None:
    """The issuer's ``KEYS_WITHDRAWN`` value as of this process's last deny-list lookup (None: never set)."""
    return _withdrawn["seen"]


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
        denied, since, withdrawn = _lookup(prefix + digest, marker, prefix + KEYS_WITHDRAWN)
    except OUTAGES as exc:
        fallback = _fallback()
        if fallback is None:
            raise
        _warn(f"The shared cache is unreachable ({type(exc).__name__}): the fallback answers for it")
        return bool(fallback(digest))
    _withdrawn["seen"] = withdrawn
    if denied:
        return True
    if since is None:
        since = _restarted(marker)
    if issued_at is None or issued_at >= since + conf.get("LEEWAY_SECONDS") or _fallback() is None:
        return False
    return _ask_fallback(digest, since)

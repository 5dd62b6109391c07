"""The revocation deny-list lookup: is this token's SHA-256 in the shared cache? Asked on every request.

The authorization server writes revoked tokens' checksums under ``TOKEN_REVOCATION_PREFIX``; every
worker and instance reads the same cache, so a revoked token is refused on its very next request.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache

from . import conf

logger = logging.getLogger(__name__)

_redis = threading.local()


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
        _redis.raw, _redis.connection = raw, raw._get_connection_pool(False).make_connection()
    return _redis.connection


_EXISTS_REPLIES = {b":0\r\n": False, b":1\r\n": True}


def _redis_exists(key: str) -> bool | None:
    """EXISTS on this thread's connection; None when Redis is not the cache.

    The command is written to the connected socket as RESP directly (the connection did AUTH,
    SELECT and TLS when it connected): redis-py's command and parser layers cost ~40 µs of CPU
    per request here, the round trip itself ~7 µs. Anything but ``:0``/``:1`` drops the connection.
    """
    connection = _redis_connection()
    if connection is None:
        return None
    name = cache.make_and_validate_key(key).encode()
    try:
        if connection._sock is None:
            connection.connect()
        sock = connection._sock
        sock.sendall(b"*2\r\n$6\r\nEXISTS\r\n$%d\r\n%s\r\n" % (len(name), name))
        reply = b""
        while not reply.endswith(b"\r\n") and len(reply) < 64:
            chunk = sock.recv(64)
            if not chunk:
                break
            reply += chunk
        if reply not in _EXISTS_REPLIES:
            raise ConnectionError(f"unexpected reply to EXISTS: {reply[:64]!r}")
        return _EXISTS_REPLIES[reply]
    except Exception:
        connection.disconnect()
        _redis.connection = None
        raise


def is_revoked(digest: str) -> bool:
    """Whether the shared deny-list holds this token: one cache round trip, on every request."""
    key = conf.revocation_prefix() + digest
    try:
        found = _redis_exists(key)
    except Exception:  # one retry through Django's own client, which reconnects (or fails loudly)
        found = None
        logger.warning("Revocation lookup on the kept Redis connection failed; retrying", exc_info=True)
    return found if found is not None else bool(cache.get(key))

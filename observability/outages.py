"""Outages: the one list of exceptions meaning a backing service (database, shared cache) is unreachable."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError


def _outage_errors() -> tuple[type[Exception], ...]:
    errors: list[type[Exception]] = [OperationalError, InterfaceError, TimeoutError]
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # no Redis client installed: the cache is the database (or in-process)
        return tuple(errors)
    return (*errors, RedisConnectionError, RedisTimeoutError)


# What an unreachable database or Redis raises: Django wraps the database driver's errors in
# OperationalError/InterfaceError; its RedisCache does not wrap redis-py's ConnectionError and
# TimeoutError; a raw socket that timed out (mcpserver's deny-list lookup on its kept Redis
# connection) raises the built-in TimeoutError. Each app answers these with a 503 and Retry-After
# in its own protocol's shape, never a 500. The built-in ConnectionError is deliberately not here:
# the deny-list lookup raises it for a reply it does not understand, and retries through Django's client.
OUTAGES: tuple[type[Exception], ...] = _outage_errors()

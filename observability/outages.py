"""Outages: the one list of exceptions meaning a backing service (database, Redis) is unreachable."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError


def _outage_errors() -> tuple[type[Exception], ...]:
    errors: list[type[Exception]] = [OperationalError, InterfaceError, TimeoutError]
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # no Redis client installed: the shared state and Django's cache use the database
        return tuple(errors)
    return (*errors, RedisConnectionError, RedisTimeoutError)


# What an unreachable database or Redis raises: Django wraps the database driver's errors in
# OperationalError/InterfaceError; its RedisCache and the shared state's Redis client (sharedstate.redis)
# do not wrap redis-py's ConnectionError and TimeoutError; a raw socket that timed out raises the
# built-in TimeoutError. Each app answers these with a 503 and Retry-After in its own protocol's shape,
# never a 500.
OUTAGES: tuple[type[Exception], ...] = _outage_errors()

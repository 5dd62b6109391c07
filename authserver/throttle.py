"""Failure counters, lockouts and rate limits kept in the shared cache, so every worker sees them."""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache

from . import conf


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.lower().encode()).hexdigest()[:32]
    return f"authserver:{kind}:{digest}"


def _bump(key: str, window: int) -> int:
    """Increment a fixed-window counter and return its new value."""
    if cache.add(key, 1, timeout=window):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=window)
        return 1


def _lock(kind: str, value: str, seconds: int) -> None:
    cache.set(_key(f"lock-{kind}", value), time.time() + seconds, timeout=seconds)


def lockout_remaining(username: str, ip: str) -> int:
    """Seconds until the username or address may try again (0 when not locked)."""
    now = time.time()
    until = cache.get_many([_key("lock-user", username), _key("lock-ip", ip)]).values()
    remaining = max((u - now for u in until if u), default=0)
    return max(0, int(remaining + 0.999))


def record_login_failure(username: str, ip: str) -> None:
    """Count one failed sign-in; lock the username or address once its limit is reached."""
    seconds = conf.get("LOGIN_LOCKOUT_SECONDS")
    if username and _bump(_key("fail-user", username), seconds) >= conf.get("LOGIN_FAILURE_LIMIT"):
        _lock("user", username, seconds)
    if ip and _bump(_key("fail-ip", ip), seconds) >= conf.get("LOGIN_IP_FAILURE_LIMIT"):
        _lock("ip", ip, seconds)


def record_login_success(username: str) -> None:
    cache.delete(_key("fail-user", username))


def token_requests_exceeded(client_id: str) -> int:
    """Count one token request for a client; return the seconds to wait when over its limit."""
    window = conf.get("TOKEN_RATE_WINDOW")
    bucket = int(time.time() // window)
    count = _bump(_key("token", f"{client_id}:{bucket}"), window)
    if count > conf.get("TOKEN_RATE_LIMIT"):
        return int(window - time.time() % window) + 1
    return 0

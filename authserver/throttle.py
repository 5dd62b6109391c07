"""Failure counters, lockouts and rate limits kept in the shared state, so every worker sees them.

Without the shared state, lockouts cannot be checked: sign-ins and the password grant fail (503, see
``outages``) rather than let guessing go on. The token rate limit, a flood guard, is counted per
process until the shared state is back.
"""

from __future__ import annotations

import hashlib
import threading
import time

import sharedstate
from observability.clientaddress import bucket

from . import conf, outages


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.lower().encode()).hexdigest()[:32]
    return f"authserver:{kind}:{digest}"


def _bump(key: str, window: int) -> int:
    """Count one hit on a counter that lives ``window`` seconds from its first hit; its new value."""
    return sharedstate.incr(key, 1, window)


def _lock(kind: str, value: str, seconds: int) -> None:
    sharedstate.set(_key(f"lock-{kind}", value), time.time() + seconds, seconds)


def lockout_remaining(username: str, ip: str) -> int:
    """Seconds until the username or address (an IPv6 one: its /64) may try again (0 when not locked)."""
    now = time.time()
    until = sharedstate.get_many([_key("lock-user", username), _key("lock-ip", bucket(ip))]).values()
    remaining = max((u - now for u in until if u), default=0)
    return max(0, int(remaining + 0.999))


def record_login_failure(username: str, ip: str) -> None:
    """Count one failed sign-in; lock the username or address (an IPv6 one: its /64) at its limit."""
    seconds = conf.get("LOGIN_LOCKOUT_SECONDS")
    ip = bucket(ip)
    if username and _bump(_key("fail-user", username), seconds) >= conf.get("LOGIN_FAILURE_LIMIT"):
        _lock("user", username, seconds)
    if ip and _bump(_key("fail-ip", ip), seconds) >= conf.get("LOGIN_IP_FAILURE_LIMIT"):
        _lock("ip", ip, seconds)


def record_login_success(username: str) -> None:
    sharedstate.delete(_key("fail-user", username))


class _BatchedCounter:
    """A per-client request count shared through the shared state, written in batches.

    Each process tallies locally and adds its tally to the shared counter every ``batch`` requests
    (a 200th of the limit, between 1 and 20), so a token request costs a shared write only now and
    then. Across ``W`` workers the limit may be overshot by at most ``W * batch`` requests per
    window; limits under 400 use a batch of 1.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[int, int, int]] = {}  # key -> (window id, pending, last shared total)

    def hit(self, key: str, window_id: int, window: int, limit: int) -> int:
        batch = max(1, min(20, limit // 200))
        with self._lock:
            wid, pending, known = self._state.get(key, (window_id, 0, 0))
            if wid != window_id:
                pending, known = 0, 0
            pending += 1
            if pending < batch:
                self._state[key] = (window_id, pending, known)
                return known + pending
            self._state[key] = (window_id, 0, known)
        try:
            total = sharedstate.incr(f"{key}:{window_id}", pending, window)
        except outages.OUTAGES:
            return self._keep(key, window_id, pending, known)
        with self._lock:
            wid, pending, _ = self._state[key]
            if wid == window_id:
                self._state[key] = (wid, pending, total)
        return total

    def _keep(self, key: str, window_id: int, tally: int, known: int) -> int:
        """The shared counter is unreachable: keep the tally for when it is back, and meanwhile count
        in this process alone (the limit then holds per process instead of per deployment)."""
        outages.warn("The shared state is unreachable: token rate limits are counted per process")
        with self._lock:
            wid, pending, _ = self._state[key]
            if wid == window_id:
                self._state[key] = (wid, pending + tally, known)
                tally += pending
        return known + tally


_token_requests = _BatchedCounter()


def token_requests_exceeded(client_id: str, ip: str = "") -> int:
    """Count one token request naming a client from an address (an IPv6 one: its /64); return the
    seconds to wait when over the limit."""
    window, limit = conf.get("TOKEN_RATE_WINDOW"), conf.get("TOKEN_RATE_LIMIT")
    now = time.time()
    key = _key("token", f"{client_id}@{bucket(ip)}" if ip else client_id)
    if _token_requests.hit(key, int(now // window), window, limit) > limit:
        return int(window - now % window) + 1
    return 0


def registrations_exceeded(ip: str) -> int:
    """Count one registration attempt from an address (an IPv6 one: its /64); return the seconds to
    wait when over the limit."""
    return _address_exceeded("register", ip, conf.get("DCR_RATE_LIMIT"), conf.get("DCR_RATE_WINDOW"))


def metadata_fetches_exceeded(ip: str) -> int:
    """Count one fetch of an unknown (or stale) metadata document for an address; the seconds to wait
    when over the limit. A new document is a new client, as a registration is."""
    return _address_exceeded("cimd", ip, conf.get("CIMD_RATE_LIMIT"), conf.get("CIMD_RATE_WINDOW"))


# RFC 8628 §3.5: each poll that comes too early answers slow_down and adds this to the interval.
SLOW_DOWN_SECONDS = 5


def device_polled_too_soon(device_code: str, interval: int) -> bool:
    """Count one poll of a pending device code: True when it came within ``interval`` seconds of the
    previous one (a second's leeway aside, for the device's timing), and the wait then starts again,
    ``SLOW_DOWN_SECONDS`` longer. Without the shared state polls are not paced (the token rate limit
    still holds)."""
    key = _key("device-poll", device_code)
    try:
        if sharedstate.add(key, 1, max(1, interval - 1)):
            return False
        sharedstate.set(key, 1, max(1, interval + SLOW_DOWN_SECONDS - 1))
    except outages.OUTAGES:
        outages.warn("The shared state is unreachable: device polls are not paced")
        return False
    return True


def _user_code_key(ip: str, now: float) -> tuple[str, int]:
    window = conf.get("DEVICE_USER_CODE_WINDOW")
    return f"{_key('user-code', bucket(ip))}:{int(now // window)}", window


def user_code_lockout(ip: str) -> int:
    """Seconds until an address (an IPv6 one: its /64) may enter device user codes again, after
    ``DEVICE_USER_CODE_ATTEMPTS`` wrong ones in a window (0: it may now)."""
    now = time.time()
    key, window = _user_code_key(ip, now)
    if sharedstate.incr(key, 0, window) >= conf.get("DEVICE_USER_CODE_ATTEMPTS"):  # read the count
        return int(window - now % window) + 1
    return 0


def record_user_code_failure(ip: str) -> None:
    key, window = _user_code_key(ip, time.time())
    sharedstate.incr(key, 1, window)


def requests_exceeded(kind: str, caller: str, limit: int, window: int) -> int:
    """Count one request of ``kind`` by ``caller`` in the current fixed window of ``window`` seconds,
    shared by every worker and instance; return the seconds until that window ends when this request
    is over ``limit`` (0: within it). An unreachable shared state raises its driver's error."""
    now = time.time()
    if _bump(f"{_key(kind, caller)}:{int(now // window)}", window) > limit:
        return int(window - now % window) + 1
    return 0


def _address_exceeded(kind: str, ip: str, limit: int, window: int) -> int:
    return requests_exceeded(kind, bucket(ip), limit, window)

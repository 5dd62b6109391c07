"""The deny-list, the resource server's side: reads whether a token's SHA-256 is on it, on every request.

The authorization server (``authserver.revoking`` in this project) writes revoked tokens' checksums
under ``TOKEN_REVOCATION_PREFIX`` in the shared state (``sharedstate``) and announces every write on
the ``revocations`` change feed; every worker and instance reads the same state, so a revoked token is
refused on its very next request.

Two things can make the shared state an unreliable witness, and ``REVOCATION_FALLBACK`` (a dotted
path to a callable taking the checksum and answering "revoked?" from the issuer's own records) covers
both:

- it is unreachable: the fallback answers instead; without one, the outage propagates and the
  request gets a 503 rather than accepting a token that may be revoked;
- it restarted empty or was flushed, forgetting revocations: a marker that never expires holds when
  the deny-list was (re)started, and a token issued before then is asked of the fallback once per
  process and marker; revocations after that reach the shared state again.

A token found clean is not looked up again while ``sharedstate.version("revocations")`` reads as it
did before that lookup began, for at most ``CLEAN_FOR_SECONDS`` (a bound on what a writer that died
between its commit and its announcement could leave behind): then the version is the only cost of a
request. A version that reads None means no change feed for now: every lookup is made.

The same lookup reads ``KEYS_WITHDRAWN`` under the prefix: the issuer changes it (and announces it on
the same feed) whenever it withdraws a verifying key (retired as compromised). ``keys_withdrawn()`` is
the last value seen; ``auth`` reloads its keys when it differs from the one its keys were loaded under.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from django.core.signals import setting_changed
from django.utils.module_loading import import_string

import sharedstate
from observability.outages import OUTAGES

from . import conf

logger = logging.getLogger(__name__)

TOPIC = "revocations"  # the change feed the issuer announces deny-list writes on
MARKER = "deny-list-since"  # under the revocation prefix: when this deny-list started
KEYS_WITHDRAWN = "keys-withdrawn"  # under the prefix: the issuer changes it when it withdraws a key
WARNING_INTERVAL = 10.0  # seconds between two warnings about the same outage, per process

CLEAN_FOR_SECONDS = 1.0

_clean: dict[str, tuple[Hashable, float]] = {}  # digest -> (feed version, until when) of a clean lookup
_verdicts: OrderedDict[str, tuple[int, bool]] = OrderedDict()  # digest -> (marker, revoked) from the fallback
_lock = threading.Lock()
_warned = {"at": float("-inf")}
_withdrawn: dict[str, Any] = {"seen": None}  # KEYS_WITHDRAWN's value at the last lookup


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _lookup(key: str, marker: str, withdrawn: str) -> tuple[bool, int | None, int | None]:
    """Whether ``key`` is on the deny-list, the marker's value and ``KEYS_WITHDRAWN``'s: one round trip."""
    values = sharedstate.get_many([key, marker, withdrawn])
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
    if sharedstate.add(marker, now, None):
        _warn("The revocation deny-list starts now (new or emptied shared state): older tokens are checked")
        return now
    return _int(sharedstate.get(marker)) or now


def forget() -> None:
    """Forget every remembered verdict (tests, key rotation drills, changed settings)."""
    _clean.clear()
    _withdrawn["seen"] = None
    with _lock:
        _verdicts.clear()


def _forget_on_change(setting: str, **kwargs: Any) -> None:
    if setting in {"SHARED_STATE", "CACHES", "DATABASES", "MCPSERVER", "TOKEN_REVOCATION_PREFIX"}:
        forget()


setting_changed.connect(_forget_on_change, dispatch_uid="mcpserver-denylist")


def keys_withdrawn() -> int | None:
    """The issuer's ``KEYS_WITHDRAWN`` value as of this process's last deny-list lookup (None: never set)."""
    return _withdrawn["seen"]


def is_revoked(digest: str, issued_at: int | None = None, fallback: bool = True) -> bool:
    """Whether this token has been revoked. ``issued_at`` (the ``iat`` claim) lets a token that is older
    than the deny-list be checked against the fallback; without it the deny-list alone answers.
    ``fallback=False``: a token the fallback knows nothing of (another issuer's), answered as if there
    were no fallback."""
    # Read before the lookup: a write that the lookup misses is announced afterwards. None: no feed
    # (a database other hosts may share, Redis's subscription down): every lookup is made.
    seen = sharedstate.version(TOPIC)
    if seen is None:
        return _is_revoked(digest, issued_at, fallback)
    clean = _clean.get(digest)
    if clean is not None and clean[0] == seen and time.monotonic() < clean[1]:
        return False
    if _is_revoked(digest, issued_at, fallback):
        _clean.pop(digest, None)
        return True
    if len(_clean) >= conf.get("TOKEN_CACHE_SIZE"):
        _clean.clear()
    _clean[digest] = (seen, time.monotonic() + CLEAN_FOR_SECONDS)
    return False


def _is_revoked(digest: str, issued_at: int | None, use_fallback: bool) -> bool:
    prefix = conf.revocation_prefix()
    marker = prefix + MARKER
    try:
        denied, since, withdrawn = _lookup(prefix + digest, marker, prefix + KEYS_WITHDRAWN)
        _withdrawn["seen"] = withdrawn
        if denied:
            return True
        if since is None:
            since = _restarted(marker)
    except OUTAGES as exc:
        fallback = _fallback() if use_fallback else None
        if fallback is None:
            raise
        _warn(f"The shared state is unreachable ({type(exc).__name__}): the fallback answers for it")
        return bool(fallback(digest))
    if not use_fallback or issued_at is None or issued_at >= since + conf.get("LEEWAY_SECONDS"):
        return False
    return _fallback() is not None and _ask_fallback(digest, since)

"""State shared by every process and every instance, behind one small interface.

Everything one process must learn from another goes through this package, and nothing else in the
project talks to Redis or to Django's cache table directly:

- **key-value with expiry**: ``get``, ``get_many``, ``set``, ``add``, ``delete``, ``incr`` (a counter
  that lives ``ttl`` seconds from its first hit) and ``seen_once`` (true the first time a key is seen
  on any instance within ``ttl``: replay protection). Values are JSON-shaped (``None``, booleans,
  numbers, strings, lists, dicts).
- **change feeds**: ``changed(topic)`` announces that what a topic covers (revocations, clients,
  signing keys, tool policies...) changed; ``version(topic)`` is an opaque value that differs from
  every earlier one once a change announced before the call could have been missed. A reader keeps
  what it loaded together with the version read *before* loading it, and reloads when the version
  it reads differs. ``None`` means there is no feed right now (Redis unreachable, a database shared
  by many hosts without Redis): the reader must look up every time, or fall back to a bounded
  recheck interval where the docs say so.
- **messages to a waiting request**: ``send(channel, payload)`` leaves a JSON-shaped dict for the one
  receiver of ``channel``, which may be a thread of any process of any instance; ``receive(channel,
  timeout)`` takes the oldest message left there, waiting up to ``timeout`` seconds. A message waits
  ``ttl`` seconds for its receiver, so it is delivered whether the receiver started waiting before or
  after it was sent; each is received once. A channel keeps at most ``MAX_MESSAGES`` undelivered
  messages (later ones are dropped). One receiver per channel at a time.
- **logs**: ``append(log, event, keep=, ttl=)`` adds a JSON-shaped dict at the end of an append-only
  log and returns its id (an opaque string); the log keeps its last ``keep`` events and lives ``ttl``
  seconds after its last append. ``end(log)`` is the id to read after for what comes next;
  ``read(log, after, timeout)`` returns the kept events after the id ``after``, oldest first (at most
  ``MAX_READ``), waiting up to ``timeout`` seconds for one; any number of readers, on any process and
  instance, each with its own position, so a reader that reconnects anywhere resumes where it was.
  An id the back end never makes is a ``ValueError``.

Two back ends, chosen by ``settings.SHARED_STATE["BACKEND"]`` (``config/settings/data.py`` picks Redis
when ``REDIS_URL`` is set):

- ``sharedstate.redis.RedisState``: keys in Redis through redis-py's public client; changes
  announced with ``PUBLISH`` and followed by one subscribed connection per process; messages in a
  list per channel (``RPUSH``, ``BLPOP``); logs as Redis streams (``XADD``, ``XREAD``).
- ``sharedstate.embedded.EmbeddedState``: keys in Django's cache (the database cache by default);
  changes as eight random bytes per topic in a memory-mapped file beside the SQLite database, shared
  by every process on the host (in-process when the database is in memory; no feed on other
  databases); messages handed over in-process when the receiver is a thread of the sender's process,
  else kept in the cache and found by the receiver when the channel's change feed moves; a log's
  events as numbered cache keys, readers woken by the log's change feed.

Errors from an unreachable back end are the driver's own (see ``observability.outages.OUTAGES``);
callers decide whether to fall back or answer 503.

``reset()`` forgets everything this process holds (tests): every version read afterwards differs
from those read before, so every consumer that keys its memo on a version starts afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable
from typing import Any

from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .base import MAX_MESSAGES, MAX_READ, Backend

__all__ = [
    "MAX_MESSAGES", "MAX_READ", "Backend", "add", "append", "backend", "build", "changed", "clear", "end",
    "era", "delete", "get", "get_many", "incr", "ping", "read", "receive", "reset", "seen_once", "send",
    "set", "version",
]  # fmt: skip

DEFAULT = {"BACKEND": "sharedstate.embedded.EmbeddedState"}
MESSAGE_TTL = 300

_lock = threading.Lock()
_backend: list[Backend] = []  # the configured back end, built on first use
_era = [0]  # moved on by reset(): part of every version, so nothing read before a reset matches after


def backend() -> Backend:
    """The configured back end (built once per process, and again after its setting changes)."""
    try:
        return _backend[0]
    except IndexError:
        pass
    with _lock:
        if not _backend:
            _backend.append(build())
        return _backend[0]


def build() -> Backend:
    """A new back end from ``settings.SHARED_STATE`` (``backend()`` keeps one per process; another
    instance of the deployment, as tests stand for it, builds its own)."""
    from django.conf import settings

    config = {**DEFAULT, **getattr(settings, "SHARED_STATE", {})}
    options = {key.lower(): value for key, value in config.items() if key != "BACKEND"}
    return import_string(config["BACKEND"])(**options)


def get(key: str, default: Any = None) -> Any:
    return backend().get_many([key]).get(key, default)


def get_many(keys: Iterable[str]) -> dict[str, Any]:
    """The keys that exist (and have not expired), with their values."""
    return backend().get_many(list(keys))


def set(key: str, value: Any, ttl: int | None) -> None:  # noqa: A001  (the interface's own verb)
    """Store ``value`` under ``key`` for ``ttl`` seconds (None: until deleted)."""
    backend().set(key, value, ttl)


def add(key: str, value: Any, ttl: int | None) -> bool:
    """Store ``value`` only if ``key`` is absent; whether it was stored."""
    return backend().add(key, value, ttl)


def delete(key: str) -> None:
    backend().delete(key)


def incr(key: str, amount: int = 1, ttl: int = 60) -> int:
    """Add ``amount`` to the counter ``key`` (created at 0 with ``ttl`` seconds to live); its new value."""
    return backend().incr(key, amount, ttl)


def seen_once(key: str, ttl: int) -> bool:
    """True the first time ``key`` is offered on any instance within ``ttl`` seconds, False after."""
    return backend().add(key, 1, ttl)


def version(topic: str) -> Hashable | None:
    """An opaque value that changes whenever a change to ``topic`` may have been announced since the
    last read; None when no change feed is available right now."""
    seen = backend().version(topic)
    return None if seen is None else (_era[0], seen)


def changed(topic: str, *, using: str | None = None) -> None:
    """Announce that ``topic`` changed: at once, and again when the current transaction on ``using``
    commits (a reader that reloaded in between saw the rows as they were before the commit)."""
    from django.db import transaction

    current = backend()
    current.announce(topic)
    transaction.on_commit(lambda: current.announce(topic), using=using, robust=True)


def send(channel: str, payload: dict[str, Any], ttl: int = MESSAGE_TTL) -> None:
    """Leave ``payload`` (a JSON-shaped dict) for the receiver of ``channel``, wherever it runs; it waits
    ``ttl`` seconds to be received."""
    backend().send(channel, payload, ttl)


def receive(channel: str, timeout: float) -> dict[str, Any] | None:
    """Take the oldest message sent to ``channel`` (waiting up to ``timeout`` seconds); None without one."""
    return backend().receive(channel, timeout)


def append(log: str, event: dict[str, Any], *, keep: int, ttl: int) -> str:
    """Add ``event`` (a JSON-shaped dict) at the end of ``log``; its id. The log keeps its last ``keep``
    events and lives ``ttl`` seconds after its last append."""
    return backend().append(log, event, keep, ttl)


def end(log: str) -> str:
    """The id to ``read`` after for the events appended from now on."""
    return backend().end(log)


def read(log: str, after: str, timeout: float) -> list[tuple[str, dict[str, Any]]]:
    """The events of ``log`` after the id ``after`` that it still keeps, as (id, event), oldest first
    (at most ``MAX_READ``), waiting up to ``timeout`` seconds for one; ``ValueError`` for an id the back
    end never makes (a client's ``Last-Event-ID``, say)."""
    return backend().read(log, after, timeout)


def clear() -> None:
    """Delete every shared key (tests; never on a live deployment: revocations would be forgotten)."""
    backend().clear()


def ping() -> None:
    """One write and read back: raises when the back end is unreachable or loses what it is given."""
    backend().ping()


def era() -> int:
    """How many times this process's view was reset: what was loaded in another era is never reused."""
    return _era[0]


def reset() -> None:
    """Forget this process's view of the shared state (tests; a changed setting)."""
    with _lock:
        _era[0] += 1
        if _backend:
            _backend.pop().close()


def _reset_on_change(setting: str, **kwargs: Any) -> None:
    if setting in {"SHARED_STATE", "CACHES", "DATABASES"}:
        reset()


setting_changed.connect(_reset_on_change, dispatch_uid="sharedstate-reset")

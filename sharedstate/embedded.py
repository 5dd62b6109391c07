"""The embedded back end: keys in Django's cache, change feeds in a memory-mapped file.

Keys and values go through Django's cache API on the alias ``CACHE`` (``"default"``: the database
cache on the embedded default), so they live in the project's own database and every process and
instance that shares the database shares them.

Change feeds exist where every process that can announce a change shares one host: with SQLite, a
file beside the database holds eight random bytes per slot; ``announce`` rewrites the topic's slot,
``version`` reads it (topics share ``SLOTS`` slots by hash: two topics on one slot only cause an
extra reload). Random rather than counted, so that writers need no lock: any value one writes
differs from every value a reader can have seen (2**-64 aside). An in-memory database has one
process: the slots live in it. Any other database may be shared by many hosts: ``version`` is None
(readers look up every time); use Redis there.

Messages: a message sent to a channel whose receiver is a thread of the sending process is handed
over in memory (``mailboxes``): at once, without the database. Otherwise it is stored in the cache,
in the first free of ``MAX_MESSAGES`` keys of the channel, and the channel's change feed topic is
announced; the receiver reads the channel's keys when it starts waiting and again whenever that
topic's slot moves, which it checks every ``FEED_POLL_SECONDS`` (a read of shared memory): a message
from another process on the host arrives within that interval plus one cache read. Without a feed
(a database other than SQLite) the receiver reads the keys every ``POLL_SECONDS``.

Logs: event ``n`` of a log is the cache key ``sharedstate:log:<log>:<n>``, claimed with ``add`` (two
appenders never take one number: the second tries the next), and ``sharedstate:log:<log>:end`` holds
the last number given, how many events the log keeps and where it began; ``append`` deletes the event
that many numbers back and announces the log's topic. The end is a hint: a racing appender may write
a lower one, so the end is found by looking a few numbers past it. A new log begins at the clock's
microseconds, so a log that expired and began again never reuses an id a client may still hold.
Readers wait for the log's topic to move as ``receive`` waits for a message.
"""

from __future__ import annotations

import functools
import logging
import math
import mmap
import os
import threading
import time
import zlib
from typing import Any

from .base import MAX_MESSAGES, MAX_READ, Backend
from .mailboxes import Mailbox, Mailboxes

logger = logging.getLogger(__name__)

SLOT_SIZE = 8
SLOTS = 64
FEED_POLL_SECONDS = 0.01
POLL_SECONDS = 0.1


LOG_CLAIMS = 16  # numbers an appender tries past the end it read (appenders racing it took the others)


def _log_key(log: str, number: int | str) -> str:
    return f"sharedstate:log:{log}:{number}"


class Slots:
    """``SLOTS`` eight-byte stamps, in a shared memory-mapped file or (``path`` None) in this process."""

    def __init__(self, path: str | None) -> None:
        size = SLOT_SIZE * SLOTS
        if path is None:
            self._memory: Any = mmap.mmap(-1, size)  # private to this process
            self._memory[:] = os.urandom(size)
            return
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(descriptor).st_size < size:
                os.ftruncate(descriptor, size)
            self._memory = mmap.mmap(descriptor, size)  # MAP_SHARED: one page for every process
        finally:
            os.close(descriptor)

    @staticmethod
    @functools.cache
    def _offset(topic: str) -> int:
        return (zlib.crc32(topic.encode()) % SLOTS) * SLOT_SIZE

    def read(self, topic: str) -> bytes:
        at = self._offset(topic)
        return self._memory[at : at + SLOT_SIZE]  # a slice of an mmap is a copy, as bytes

    def change(self, topic: str) -> None:
        at = self._offset(topic)
        self._memory[at : at + SLOT_SIZE] = os.urandom(SLOT_SIZE)


class EmbeddedState(Backend):
    def __init__(self, cache: str = "default", database: str = "default", **options: Any) -> None:
        self.alias, self.database = cache, database
        self._slots: dict[str, Slots | None] = {}  # database NAME -> its slots (None: no feed)
        self._lock = threading.Lock()
        # The connection's own settings (the dict a test run renames in place; a changed DATABASES
        # setting builds a new back end).
        self._database_settings: dict[str, Any] | None = None
        self.mailboxes = Mailboxes()

    @property
    def cache(self):
        from django.core.cache import caches

        return caches[self.alias]

    # --- keys -------------------------------------------------------------------------------------

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        return self.cache.get_many(keys)

    def set(self, key: str, value: Any, ttl: int | None) -> None:
        self.cache.set(key, value, timeout=ttl)

    def add(self, key: str, value: Any, ttl: int | None) -> bool:
        return self.cache.add(key, value, timeout=ttl)

    def delete(self, key: str) -> None:
        self.cache.delete(key)

    def clear(self) -> None:
        self.cache.clear()

    def incr(self, key: str, amount: int, ttl: int) -> int:
        # Django's cache increments by reading and writing back with the default timeout, which would
        # stretch the window: the counter is kept with its deadline and written back with what is left
        # of it. Two processes incrementing at the same instant may count one hit (as Django's own).
        cache = self.cache
        for _ in range(3):
            now = time.time()
            current = cache.get(key)
            if isinstance(current, list) and len(current) == 2 and current[1] > now:
                count = current[0] + amount
                cache.set(key, [count, current[1]], timeout=max(1, math.ceil(current[1] - now)))
                return count
            if cache.add(key, [amount, now + ttl], timeout=ttl) or current is not None:
                if current is not None:  # expired but not yet culled: start a new window
                    cache.set(key, [amount, now + ttl], timeout=ttl)
                return amount
        return amount

    # --- messages -------------------------------------------------------------------------------------

    def send(self, channel: str, payload: dict[str, Any], ttl: int) -> None:
        if not self.mailboxes.offer(channel, payload):
            self._store(channel, payload, ttl)

    def receive(self, channel: str, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        mailbox = self.mailboxes.enter(channel)
        found = None
        try:
            found = self._wait(channel, mailbox, deadline)
        finally:
            left = self.mailboxes.leave(channel, mailbox)
        if found is None and left:
            found = left.pop(0)
        for payload in left:  # offered while this receiver was taking another one: keep them
            self._store(channel, payload, 60)
        return found

    def _wait(self, channel: str, mailbox: Mailbox, deadline: float) -> dict[str, Any] | None:
        topic = "message:" + channel
        while True:
            seen = self.version(topic)  # before looking: a message stored after the look moves it
            found = mailbox.take()
            if found is None:
                found = self._take_stored(channel)
            if found is not None:
                return found
            step = FEED_POLL_SECONDS if seen is not None else POLL_SECONDS
            while seen is None or self.version(topic) == seen:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                if mailbox.arrived.wait(min(step, remaining)) or seen is None:
                    break

    # --- logs -------------------------------------------------------------------------------------

    def append(self, log: str, event: dict[str, Any], keep: int, ttl: int) -> str:
        cache = self.cache
        end, _, first = self._end(log)
        if not end:
            end = first = time.time_ns() // 1000
        for number in range(end + 1, end + 1 + LOG_CLAIMS):  # noqa: B007  (the one claimed)
            if cache.add(_log_key(log, number), event, timeout=ttl):
                break
        else:
            raise RuntimeError(f"Could not append to the log {log}: {LOG_CLAIMS} numbers taken at once")
        cache.set(_log_key(log, "end"), [number, keep, first], timeout=ttl)
        cache.delete(_log_key(log, number - keep))
        self.announce("log:" + log)
        return str(number)

    def end(self, log: str) -> str:
        return str(self._end(log)[0])

    def read(self, log: str, after: str, timeout: float) -> list[tuple[str, dict[str, Any]]]:
        if not (isinstance(after, str) and after.isascii() and after.isdigit() and len(after) <= 20):
            raise ValueError(f"not an event id of this log: {after!r}")
        deadline = time.monotonic() + timeout
        topic = "log:" + log
        while True:
            seen = self.version(topic)  # before looking: an event appended after the look moves it
            events = self._events(log, int(after))
            if events:
                return events
            step = FEED_POLL_SECONDS if seen is not None else POLL_SECONDS
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                time.sleep(min(step, remaining))
                if seen is None or self.version(topic) != seen:
                    break

    def _end(self, log: str) -> tuple[int, int, int]:
        """The last number given (0: an empty log), how many events the log keeps, and the number it
        started after."""
        cache = self.cache
        hint = cache.get(_log_key(log, "end"))
        if not (isinstance(hint, list) and len(hint) == 3):
            return 0, 0, 0
        number, keep, begun = hint
        ahead = cache.get_many([_log_key(log, number + n) for n in range(1, LOG_CLAIMS + 1)])
        while _log_key(log, number + 1) in ahead:
            number += 1
        return number, keep, begun

    def _events(self, log: str, after: int) -> list[tuple[str, dict[str, Any]]]:
        end, keep, begun = self._end(log)
        if end <= after:
            return []
        first = max(after + 1, end - keep + 1, begun + 1)
        numbers = range(first, min(end, first + MAX_READ - 1) + 1)
        found = self.cache.get_many([_log_key(log, n) for n in numbers])
        return [(str(n), found[_log_key(log, n)]) for n in numbers if _log_key(log, n) in found]

    # --- messages (stored) ----------------------------------------------------------------------------

    def _keys(self, channel: str) -> list[str]:
        return [f"sharedstate:messages:{channel}:{n}" for n in range(MAX_MESSAGES)]

    def _store(self, channel: str, payload: dict[str, Any], ttl: int) -> None:
        stamped = {"sent": time.time_ns(), "payload": payload}
        if not any(self.cache.add(key, stamped, timeout=ttl) for key in self._keys(channel)):
            logger.warning("Dropped a message: channel %s holds %d undelivered ones", channel, MAX_MESSAGES)
            return
        self.announce("message:" + channel)

    def _take_stored(self, channel: str) -> dict[str, Any] | None:
        stored = self.cache.get_many(self._keys(channel))
        if not stored:
            return None
        key = min(stored, key=lambda name: stored[name]["sent"])
        self.cache.delete(key)
        return stored[key]["payload"]

    # --- change feeds -----------------------------------------------------------------------------

    def version(self, topic: str) -> bytes | None:
        slots = self._current_slots()
        return None if slots is None else slots.read(topic)

    def announce(self, topic: str) -> None:
        slots = self._current_slots()
        if slots is not None:
            slots.change(topic)

    def _current_slots(self) -> Slots | None:
        database = self._database_settings
        if database is None:
            from django.db import connections

            database = self._database_settings = connections[self.database].settings_dict
        name = database["NAME"]  # read each time: a test run swaps in its test database's name
        slots = self._slots.get(name, False)
        if slots is False:
            from django.db import connections

            with self._lock:
                slots = self._slots.get(name, False)
                if slots is False:
                    slots = self._slots[name] = self._open(connections[self.database])
        return slots

    @staticmethod
    def _open(connection) -> Slots | None:
        if connection.vendor != "sqlite":
            return None
        path = None if connection.is_in_memory_db() else f"{connection.settings_dict['NAME']}-state"
        try:
            return Slots(path)
        except OSError:
            logger.warning("No change feed at %s: readers look every change up", path, exc_info=True)
            return None

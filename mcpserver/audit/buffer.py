"""The records of this process not yet in the table, oldest first, each with the spool file its line
went to (None when it was not spooled). A record stays until it is written: the batch being written
still counts against the bound.

The buffer holds at most ``MAX_BUFFERED`` records. A record that finds it full waits for the writer to
make room (back-pressure), up to ``AUDIT_BACKPRESSURE_SECONDS`` after the buffer filled: a slow
database slows calls down rather than losing their records. A buffer full for that long means the
database is down: records are then dropped without waiting until there is room again, and every loss
is counted and reported (``report_dropped``: one ERROR line and the ``audit_records_dropped`` signal).

Records come in through ``add``; only the writer takes them out, oldest first (``oldest`` for a batch,
``written`` once it is in the table, ``take_all`` at shutdown). This module owns this process's spool
(``spool.Spool``), which its lock guards. A forked child starts with an empty buffer and no spool file.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterator

from .. import conf, signals
from . import spool, spooldir

logger = logging.getLogger(__name__)

# Records not yet in the table (the batch being written included) that a process keeps; a record
# beyond them waits for room (see add).
MAX_BUFFERED = 100_000
# (record's entry, its spool file or None), oldest first; a batch leaves it once written.
_buffer: deque[tuple[tuple, spool.Segment | None]] = deque()
_spool: list[spool.Spool | None] = [None]
# Guards the buffer's ends and the spool; _room wakes the records waiting for room once a batch is in.
_lock = threading.Lock()
_room = threading.Condition(_lock)
_stalled: dict[str, float | None] = {"since": None}  # when a record first found the buffer full
_dropped = [0]  # records lost since the last report
_flushing = [0]  # of the buffered records, how many the flush under way took on and has not written
_dropped_lock = threading.Lock()


def add(entry: tuple) -> int:
    """Append ``entry`` (``trail.record``'s) to this process's spool file, when it spools, and to the
    buffer; when the buffer is full, wait for room (see the module's docstring), else drop and count it.
    Return how many records wait for a flush then (not those a flush under way is writing: they must
    not call for another flush as soon as it ends, with what little came in meanwhile)."""
    where = spooldir.directory()
    line = spool.encode(entry) if where else None
    with _lock:
        if len(_buffer) >= MAX_BUFFERED and not _wait_for_room():
            _count_dropped(1)
            return len(_buffer) - _flushing[0]
        _buffer.append((entry, None if line is None else _spool_in(where).append(line)))
        return len(_buffer) - _flushing[0]


def _wait_for_room() -> bool:
    # Called holding _lock. Every record waits until the same deadline: once the buffer has been full
    # that long, records are dropped without waiting rather than each holding its call up.
    now = time.monotonic()
    if _stalled["since"] is None:
        _stalled["since"] = now
    remaining = _stalled["since"] + conf.get("AUDIT_BACKPRESSURE_SECONDS") - now
    return _room.wait_for(lambda: len(_buffer) < MAX_BUFFERED, max(0.0, remaining))


def _spool_in(where: str) -> spool.Spool:
    current = _spool[0]
    if current is None or current.directory != where:
        if current is not None:
            current.close()
        current = _spool[0] = spool.Spool(where)
    return current


def pending() -> int:
    """How many records are not yet in the table (the batch being written included)."""
    return len(_buffer)


def start_flush() -> int:
    """At the start of a flush: how many records are buffered now, which is what the flush writes
    (``end_flush`` once it is over)."""
    with _lock:
        _flushing[0] = len(_buffer)
        return _flushing[0]


def end_flush() -> None:
    """The flush is over: what it did not write waits for the next one."""
    with _lock:
        _flushing[0] = 0


def oldest(count: int) -> list[tuple[tuple, spool.Segment | None]]:
    """Up to ``count`` of the oldest records, left in the buffer until ``written`` takes them out."""
    return [_buffer[index] for index in range(min(count, len(_buffer)))]


def written(batch: list[tuple[tuple, spool.Segment | None]]) -> None:
    """``batch`` (the oldest records, as ``oldest`` gave them) is in the table: take it out of the
    buffer and its lines out of the spool, and wake the records waiting for room."""
    with _lock:
        for _ in batch:
            _buffer.popleft()
        _flushing[0] = max(0, _flushing[0] - len(batch))
        if _spool[0] is not None:
            _spool[0].done(segment for _, segment in batch)
        _stalled["since"] = None
        _room.notify_all()


def take_all() -> Iterator[tuple[tuple, spool.Segment | None]]:
    """Take the records out, oldest first, whether written or not (at shutdown: those the database
    still refuses; their lines stay in the spool)."""
    while _buffer:
        yield _buffer.popleft()


def close_spool() -> None:
    """Close this process's spool files: each is deleted, or left to the next process when records wait
    in it."""
    with _lock:
        if _spool[0] is not None:
            _spool[0].close()
            _spool[0] = None


def _count_dropped(count: int) -> None:
    with _dropped_lock:
        _dropped[0] += count


def report_dropped() -> int:
    """Say how many records were lost since the last report: one ERROR line and the
    ``audit_records_dropped`` signal (a metric), nothing when none were; return the count."""
    with _dropped_lock:
        count, _dropped[0] = _dropped[0], 0
    if count:
        logger.error(
            "Dropped %d audit records: the buffer held %d records the database did not take for %g s",
            count, MAX_BUFFERED, conf.get("AUDIT_BACKPRESSURE_SECONDS"),
        )  # fmt: skip
        signals.audit_records_dropped.send(sender=None, count=count)
    return count


def _after_fork_in_child() -> None:
    # The parent writes what it buffered, and its spool files stay its own (locked while it lives);
    # this process starts afresh.
    global _lock, _room, _dropped_lock
    if _spool[0] is not None:
        _spool[0].abandon()
        _spool[0] = None
    _buffer.clear()
    _dropped[0] = 0
    _stalled["since"] = None
    _lock, _dropped_lock = threading.Lock(), threading.Lock()
    _room = threading.Condition(_lock)


os.register_at_fork(after_in_child=_after_fork_in_child)

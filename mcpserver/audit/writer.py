"""The audit trail's writer: every buffered record reaches the table once, in batches written off the
hot path.

A background thread per process (started by the first record when ``AUDIT_BACKGROUND`` is on) writes
the buffer every ``AUDIT_FLUSH_SECONDS``, sooner when a batch of ``AUDIT_BATCH_SIZE`` waits (``wake``),
keeping what the database refuses for the next try; and every ``REPLAY_SECONDS`` (first: when it
starts) writes the records that processes which are gone left in the spool. ``flush_at_exit`` runs at
interpreter exit (and at a multiprocessing worker's exit), so a graceful shutdown loses nothing, even
while the database is briefly down. One flush at a time.

A write that failed may have failed after its commit was sent: its records are then written again only
if the table lacks them, as are a replay's.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing.util
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

from django.db import close_old_connections

from observability.outages import OUTAGES

from .. import conf, signals
from . import buffer, leftovers, spooldir, tables

logger = logging.getLogger(__name__)

REPLAY_SECONDS = 60.0  # how often the writer looks for files of dead processes (first: when it starts)
_wake = threading.Event()
_state: dict[str, Any] = {"thread": None}
# The ids of the batch whose write failed last: maybe after its commit was sent, so maybe written.
_uncertain: set[int] = set()
_start_lock = threading.Lock()
# One flush at a time: a second flusher (the exit flush) waits for the batch being written.
_flush_lock = threading.Lock()


def flush() -> int:
    """Write the records buffered when the flush begins; return how many were written."""
    with _flush_lock:
        return _flush()


def _flush() -> int:
    # Only what is buffered now: records that requests add meanwhile wait for the next flush, in a
    # full batch, rather than keep this loop writing them one transaction at a time. A batch stays in
    # the buffer (and its lines in the spool) until it is written.
    buffer.report_dropped()
    left = buffer.start_flush()
    try:
        return _write_batches(left)
    finally:
        buffer.end_flush()


def _write_batches(left: int) -> int:
    written = 0
    while buffer.pending() and left > 0:
        batch = buffer.oldest(min(left, conf.get("AUDIT_BATCH_SIZE")))
        entries = [entry for entry, _ in batch]
        try:
            if _uncertain.intersection(entry[0] for entry in entries):
                entries = tables.unwritten(entries)
            if entries:
                tables.insert(entries)
        except Exception as exc:
            _uncertain.update(entry[0] for entry in entries)
            # An outage repeats on every flush until it ends: one line each time, not a traceback.
            outage = isinstance(exc, OUTAGES)
            logger.log(
                logging.WARNING if outage else logging.ERROR,
                "Could not write %d audit records; keeping them for the next flush",
                len(batch),
                exc_info=not outage,
            )
            return written
        _uncertain.clear()
        buffer.written(batch)
        left -= len(batch)
        written += len(batch)
    return written


def replay() -> int:
    """Write the records left in the spool directory by processes that are gone, each once (those the
    table has are skipped), deleting each file once written; return how many were written."""
    where = spooldir.directory()
    written = 0
    for path in leftovers.left_files(where) if where else []:
        claimed = leftovers.claim(path)
        if claimed is None:  # its process lives
            continue
        try:
            entries = tables.unwritten(claimed.entries)
            for start in range(0, len(entries), conf.get("AUDIT_BATCH_SIZE")):
                tables.insert(entries[start : start + conf.get("AUDIT_BATCH_SIZE")])
        except Exception as exc:
            claimed.release()
            outage = isinstance(exc, OUTAGES)
            logger.log(
                logging.WARNING if outage else logging.ERROR,
                "Could not write the audit records left in %s; keeping them for the next replay",
                path,
                exc_info=not outage,
            )
            break
        claimed.delete()
        written += len(entries)
        if entries:
            logger.warning("Wrote %d audit records left in %s by a process that is gone", len(entries), path)
        if claimed.torn:
            logger.error(
                "Dropped %d audit records: unreadable lines in %s (cut by a system crash)", claimed.torn, path
            )
            signals.audit_records_dropped.send(sender=None, count=claimed.torn)
    return written


def flush_at_exit() -> None:
    """At shutdown: write what is buffered, waiting up to ``AUDIT_EXIT_WAIT_SECONDS`` for a database
    that is down; records it still refuses go to the error log, one line each, and stay in the spool
    for the next process to write."""
    deadline = time.monotonic() + conf.get("AUDIT_EXIT_WAIT_SECONDS")
    with _flush_lock:  # the writer thread finishes the batch it is writing, then starts no other
        _flush()
        while buffer.pending() and time.monotonic() < deadline:
            time.sleep(0.5)
            close_old_connections()
            _flush()
        for entry, segment in buffer.take_all():
            _, created, subject, _, client_id, kind, name, outcome, _, size, checksum, _, detail = entry
            logger.error(
                "Audit record not written%s: %s %s %s%s by %s via %s at %s (%d argument bytes, sha256 %s)",
                " (kept in the spool for the next process)" if segment else "",
                kind, name, outcome, f" ({detail})" if detail else "", subject, client_id,
                datetime.fromtimestamp(created, tz=UTC).isoformat(), size, checksum,
            )  # fmt: skip
        buffer.close_spool()


def wake() -> None:
    """Have the writer thread flush now rather than at the end of its interval."""
    if not _wake.is_set():  # set already: the writer flushes when it next looks (no lock taken)
        _wake.set()


def _write_forever() -> None:
    replay_at = 0.0
    while True:
        if time.monotonic() >= replay_at:
            replay_at = time.monotonic() + REPLAY_SECONDS
            close_old_connections()
            try:
                replay()
            except Exception:
                logger.exception("Could not replay the audit spool")
        _wake.wait(conf.get("AUDIT_FLUSH_SECONDS"))
        _wake.clear()
        if buffer.pending():
            close_old_connections()
            flush()


def ensure_started() -> None:
    """Start this process's writer thread unless it runs, and have what is buffered written at exit."""
    if _state["thread"] is not None:
        return
    with _start_lock:
        if _state["thread"] is None:
            thread = threading.Thread(target=_write_forever, name="mcp-audit-writer", daemon=True)
            thread.start()
            _state["thread"] = thread
            atexit.register(flush_at_exit)
            # Workers that are multiprocessing children (granian's) end with os._exit, which skips
            # atexit; multiprocessing runs its finalizers first. A second flush finds nothing left.
            multiprocessing.util.Finalize(None, flush_at_exit, exitpriority=10)


def _after_fork_in_child() -> None:
    # The parent writes what it buffered; this process has no writer thread yet.
    global _wake, _start_lock, _flush_lock
    _state["thread"] = None
    _uncertain.clear()
    _wake, _start_lock, _flush_lock = threading.Event(), threading.Lock(), threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)

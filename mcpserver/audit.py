"""The audit trail's writer: records are buffered in memory and written in batches off the hot path.

A background thread writes the buffer every ``AUDIT_FLUSH_SECONDS`` (sooner when a batch fills),
keeping what the database refuses for the next try; ``flush_at_exit()`` runs at interpreter exit
(and at a multiprocessing worker's exit), so a graceful shutdown loses nothing, even while the
database is briefly down.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import multiprocessing.util
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections, router, transaction

from observability.outages import OUTAGES

from . import conf, signals

logger = logging.getLogger(__name__)

# Records kept while the database is unreachable. Beyond it a new record pushes out the oldest (and a
# batch put back after a failed write loses its newest): every loss is counted and reported.
MAX_BUFFERED = 100_000
_buffer: deque[tuple] = deque(maxlen=MAX_BUFFERED)
_dropped = [0]  # records lost since the last report
_dropped_lock = threading.Lock()
_wake = threading.Event()
_state = {"thread": None}
_start_lock = threading.Lock()
# One flush at a time: a batch being written is off the buffer, so a second flusher (the exit flush)
# must wait for it to be written or put back rather than find the buffer empty and move on.
_flush_lock = threading.Lock()


# One encoder for every digest: json.dumps with these options builds a new one per call (a third of
# the digest's cost).
_canonical_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode


def digest(arguments: Any) -> tuple[int, str]:
    """The size and SHA-256 of the canonical JSON of ``arguments``: what the trail keeps of them."""
    if not arguments:
        return 0, ""
    try:
        canonical = _canonical_json(arguments).encode()
    except (TypeError, ValueError):  # e.g. keys of mixed types cannot be sorted
        canonical = repr(arguments).encode("utf-8", "backslashreplace")
    return len(canonical), hashlib.sha256(canonical).hexdigest()


def record(
    token,
    kind: str,
    name: str,
    outcome: str,
    duration_ms: float,
    arguments: Any,
    version: str,
    detail: str = "",
) -> None:
    """Queue one record; never raises into the request that made it. Digests are computed at flush.

    ``detail`` says why a use was denied or invalid (empty otherwise).
    """
    if not conf.get("AUDIT"):
        return
    if len(_buffer) >= _buffer.maxlen:
        _count_dropped(1)
    _buffer.append((time.time(), token, kind, name, outcome, duration_ms, arguments, version, detail))
    if conf.get("AUDIT_BACKGROUND"):
        _ensure_writer()
        if len(_buffer) >= conf.get("AUDIT_BATCH_SIZE"):
            _wake.set()


# The columns written, each with the PostgreSQL type its values are sent as (binary COPY).
COLUMN_TYPES = {
    "created": "timestamptz",
    "subject": "text",
    "username": "text",
    "client_id": "text",
    "kind": "text",
    "name": "text",
    "outcome": "text",
    "duration_ms": "float8",
    "argument_bytes": "int4",
    "argument_digest": "text",
    "protocol_version": "text",
    "detail": "text",
}
COLUMNS = tuple(COLUMN_TYPES)


def _timestamp_adapter(connection: Any, probe: float) -> Callable[[float], Any]:
    """How ``connection`` stores a timestamp in a DateTimeField column, worked out once per batch.

    Django's ``adapt_datetimefield_value`` (an aware datetime made naive in the connection's time
    zone, as a string on SQLite and MySQL; the aware datetime itself on PostgreSQL) costs ~4.5 us a
    row here; when it agrees with one of those two forms on ``probe``, the rows get that form built
    directly (~2 us), otherwise every row goes through it.
    """
    adapt = connection.ops.adapt_datetimefield_value
    expected = adapt(datetime.fromtimestamp(probe, tz=UTC))
    if isinstance(expected, datetime) and expected.tzinfo is not None:
        if expected == datetime.fromtimestamp(probe, tz=UTC):
            return lambda created: datetime.fromtimestamp(created, tz=UTC)
    elif isinstance(expected, str) and settings.USE_TZ:
        zone = connection.timezone
        if expected == str(datetime.fromtimestamp(probe, tz=zone).replace(tzinfo=None)):
            return lambda created: str(datetime.fromtimestamp(created, tz=zone).replace(tzinfo=None))
    return lambda created: adapt(datetime.fromtimestamp(created, tz=UTC))


def _row(entry: tuple, timestamp: Callable[[float], Any]) -> tuple:
    created, token, kind, name, outcome, duration_ms, arguments, version, detail = entry
    size, checksum = digest(arguments)
    return (
        timestamp(created),
        token.subject[:255],
        (token.username or "")[:150],
        token.client_id[:255],
        kind,
        name[:500],
        outcome,
        round(duration_ms, 3),
        size,
        checksum,
        version[:20],
        detail[:500],
    )


# Building a row holds the GIL for ~5 us (~10 before its timestamp and digest were made cheaper): 500 at
# once stalled a busy request thread of the same worker for ~4 ms (straight into the tail latency);
# slices of 50 give it back every ~0.25 ms.
ROWS_BETWEEN_YIELDS = 50


def _insert(batch: list[tuple]) -> None:
    """A few multi-row INSERTs per batch: the ORM's per-object cost would compete with requests for the
    GIL. Rows are built before the transaction opens (no database lock held meanwhile)."""
    from .models import AuditRecord

    connection = connections[router.db_for_write(AuditRecord)]
    meta, quote = AuditRecord._meta, connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in COLUMNS)
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    rows, timestamp = [], _timestamp_adapter(connection, batch[0][0])
    for start in range(0, len(batch), ROWS_BETWEEN_YIELDS):
        rows += [_row(entry, timestamp) for entry in batch[start : start + ROWS_BETWEEN_YIELDS]]
        time.sleep(0)  # let request threads have the GIL between slices (see ROWS_BETWEEN_YIELDS)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: psycopg's executemany adapts every parameter in Python and pipelines one
            # statement per row (12% of a worker's CPU under /mcp load); COPY writes rows in C. In
            # binary: the text format's timestamps cost a third more of the writer's CPU here (psycopg
            # formats them, the server parses them back).
            sql = f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN (FORMAT BINARY)"
            with cursor.cursor.copy(sql) as copy:
                copy.set_types(list(COLUMN_TYPES.values()))
                for row in rows:
                    copy.write_row(row)
        else:
            # Multi-row INSERTs, as many rows each as the backend takes parameters: executemany steps
            # the statement once per row and gives up the GIL each time, and a request thread holds
            # it for up to the switch interval before the writer gets it back (a 500-record batch
            # took 0.2-0.8 s and 40-200 us of CPU per record under load, 23 us when idle).
            per_statement = max(1, (connection.features.max_query_params or 10_000) // len(COLUMNS))
            table = quote(meta.db_table)
            for start in range(0, len(rows), per_statement):
                chunk = rows[start : start + per_statement]
                values = ", ".join([f"({placeholders})"] * len(chunk))
                sql = f"INSERT INTO {table} ({columns}) VALUES {values}"  # noqa: S608  (identifiers from the model)
                cursor.execute(sql, [value for row in chunk for value in row])


class Trail:
    """Times one capability use and writes its audit record, whatever the outcome."""

    def __init__(self, ctx: Any, kind: str, name: str, arguments: Any) -> None:
        self.ctx, self.kind, self.name, self.arguments = ctx, kind, name, arguments
        self.started = time.perf_counter()
        self.finished = False

    def done(self, outcome: str, detail: str = "") -> None:
        """Record the use once: ``outcome`` is an ``AuditRecord.Outcome`` value, ``detail`` its reason."""
        if self.finished:
            return
        self.finished = True
        elapsed = (time.perf_counter() - self.started) * 1000
        token, version = self.ctx.token, self.ctx.version
        record(token, self.kind, self.name, outcome, elapsed, self.arguments, version, detail)
        signals.capability_used.send(
            Trail, kind=self.kind, name=self.name, outcome=outcome, duration_ms=elapsed
        )


def pending() -> int:
    return len(_buffer)


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
            "Dropped %d audit records: the buffer holds at most %d while the database refuses them",
            count, _buffer.maxlen,
        )  # fmt: skip
        signals.audit_records_dropped.send(sender=None, count=count)
    return count


def flush() -> int:
    """Write the records buffered when the flush begins; return how many were written."""
    with _flush_lock:
        return _flush()


def _flush() -> int:
    # Only what is buffered now: records that requests add meanwhile wait for the next flush, in a
    # full batch, rather than keep this loop writing them one transaction at a time.
    report_dropped()
    written, left = 0, len(_buffer)
    while _buffer and left > 0:
        batch = []
        while _buffer and len(batch) < min(left, conf.get("AUDIT_BATCH_SIZE")):
            batch.append(_buffer.popleft())
        left -= len(batch)
        try:
            _insert(batch)
        except Exception as exc:
            # An outage repeats on every flush until it ends: one line each time, not a traceback.
            outage = isinstance(exc, OUTAGES)
            logger.log(
                logging.WARNING if outage else logging.ERROR,
                "Could not write %d audit records; keeping them for the next flush",
                len(batch),
                exc_info=not outage,
            )
            # Put back onto a buffer that filled meanwhile, extendleft drops the newest: count them.
            _count_dropped(max(0, len(_buffer) + len(batch) - _buffer.maxlen))
            _buffer.extendleft(reversed(batch))
            return written
        written += len(batch)
    return written


def flush_at_exit() -> None:
    """At shutdown: write what is buffered, waiting up to ``AUDIT_EXIT_WAIT_SECONDS`` for a database
    that is down; records it still refuses go to the error log, one line each, rather than nowhere."""
    deadline = time.monotonic() + conf.get("AUDIT_EXIT_WAIT_SECONDS")
    with _flush_lock:  # the writer thread finishes (or puts back) a batch it holds, then starts no other
        _flush()
        while _buffer and time.monotonic() < deadline:
            time.sleep(0.5)
            close_old_connections()
            _flush()
        while _buffer:
            created, token, kind, name, outcome, duration_ms, arguments, version, detail = _buffer.popleft()
            size, checksum = digest(arguments)
            logger.error(
                "Audit record not written: %s %s %s%s by %s via %s at %s (%d argument bytes, sha256 %s)",
                kind, name, outcome, f" ({detail})" if detail else "", token.subject, token.client_id,
                datetime.fromtimestamp(created, tz=UTC).isoformat(), size, checksum,
            )  # fmt: skip


def _write_forever() -> None:
    while True:
        _wake.wait(conf.get("AUDIT_FLUSH_SECONDS"))
        _wake.clear()
        if _buffer:
            close_old_connections()
            flush()


def _ensure_writer() -> None:
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

"""The audit trail's writer: every accepted call's record reaches the table once, in batches written
off the hot path.

``record`` appends a record to this process's spool file (``auditspool``: the records of a killed
process are written by the next one) and to an in-memory buffer, which a background thread writes
every ``AUDIT_FLUSH_SECONDS`` (sooner when a batch fills), keeping what the database refuses for the
next try. A record that finds the buffer full waits for room (back-pressure, up to
``AUDIT_BACKPRESSURE_SECONDS``): a slow database slows calls down rather than losing their records.
A buffer full for that long means the database is down: records are then dropped, and every loss is
counted and reported. ``flush_at_exit()`` runs at interpreter exit (and at a multiprocessing worker's
exit), so a graceful shutdown loses nothing, even while the database is briefly down.
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import json
import logging
import multiprocessing.util
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections, router, transaction

from observability.outages import OUTAGES

from . import auditspool, conf, signals

logger = logging.getLogger(__name__)

# Records not yet in the table (the batch being written included) that a process keeps; a record
# beyond them waits for room (see record).
MAX_BUFFERED = 100_000
REPLAY_SECONDS = 60.0  # how often the writer looks for files of dead processes (first: when it starts)
# (record's entry, its spool file or None), oldest first; a batch leaves it once written.
_buffer: deque[tuple[tuple, auditspool.Segment | None]] = deque()
_spool: list[auditspool.Spool | None] = [None]
# Guards the buffer's ends and the spool; _room wakes the records waiting for room once a batch is in.
_lock = threading.Lock()
_room = threading.Condition(_lock)
_stalled: dict[str, float | None] = {"since": None}  # when a record first found the buffer full
_dropped = [0]  # records lost since the last report
_dropped_lock = threading.Lock()
_wake = threading.Event()
_state: dict[str, Any] = {"thread": None}
# The ids of the batch whose write failed last: maybe after its commit was sent, so maybe written.
_uncertain: set[int] = set()
_start_lock = threading.Lock()
# One flush at a time: a second flusher (the exit flush) waits for the batch being written.
_flush_lock = threading.Lock()
# Record ids: a random half per process, a counter the other (unique without a per-record random draw).
_id_base = int.from_bytes(os.urandom(8)) << 64
_id_count = itertools.count()


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
    """Spool and buffer one record (what the table keeps of it: never the arguments, their digest);
    never raises into the request that made it. ``detail`` says why a use was denied or invalid (empty
    otherwise).

    When the buffer is full the record waits for the writer to make room, up to
    ``AUDIT_BACKPRESSURE_SECONDS`` after the buffer filled; past that it is dropped and counted.
    """
    if not conf.get("AUDIT"):
        return
    size, checksum = digest(arguments)
    entry = (
        _id_base + next(_id_count), time.time(), token.subject[:255], (token.username or "")[:150],
        token.client_id[:255], kind, name[:500], outcome, round(duration_ms, 3), size, checksum,
        version[:20], detail[:500],
    )  # fmt: skip
    where = auditspool.directory()
    line = auditspool.encode(entry) if where else None
    with _lock:
        if len(_buffer) >= MAX_BUFFERED and not _wait_for_room():
            _count_dropped(1)
            return
        _buffer.append((entry, None if line is None else _spool_in(where).append(line)))
    if conf.get("AUDIT_BACKGROUND"):
        _ensure_writer()
        if len(_buffer) >= conf.get("AUDIT_BATCH_SIZE"):
            _wake.set()


def _wait_for_room() -> bool:
    # Called holding _lock. Every record waits until the same deadline: once the buffer has been full
    # that long, records are dropped without waiting rather than each holding its call up.
    now = time.monotonic()
    if _stalled["since"] is None:
        _stalled["since"] = now
    remaining = _stalled["since"] + conf.get("AUDIT_BACKPRESSURE_SECONDS") - now
    return _room.wait_for(lambda: len(_buffer) < MAX_BUFFERED, max(0.0, remaining))


def _spool_in(where: str) -> auditspool.Spool:
    spool = _spool[0]
    if spool is None or spool.directory != where:
        if spool is not None:
            spool.close()
        spool = _spool[0] = auditspool.Spool(where)
    return spool


# The columns written (in the order of record's entries, the id last), each with the PostgreSQL type
# its values are sent as (binary COPY).
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
    "uuid": "uuid",
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


def _id_adapter(connection: Any) -> Callable[[int], Any]:
    """How ``connection`` stores a UUIDField's value (as the field's ``get_db_prep_value`` does)."""
    if connection.features.has_native_uuid_field:
        return lambda number: uuid.UUID(int=number)
    return lambda number: f"{number:032x}"


def _row(entry: tuple, timestamp: Callable[[float], Any], identifier: Callable[[int], Any]) -> tuple:
    number, created, *values = entry
    return (timestamp(created), *values, identifier(number))


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
    rows, timestamp, identifier = [], _timestamp_adapter(connection, batch[0][1]), _id_adapter(connection)
    for start in range(0, len(batch), ROWS_BETWEEN_YIELDS):
        rows += [_row(entry, timestamp, identifier) for entry in batch[start : start + ROWS_BETWEEN_YIELDS]]
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


def _unwritten(entries: list[tuple]) -> list[tuple]:
    """The entries whose ids the table lacks, looked for among the rows of their time range (the index
    on ``created``; the ids have none)."""
    from .models import AuditRecord

    records, found = AuditRecord.objects.using(router.db_for_write(AuditRecord)), set()
    for start in range(0, len(entries), 500):
        chunk = entries[start : start + 500]
        times = [entry[1] for entry in chunk]
        span = [datetime.fromtimestamp(t, tz=UTC) for t in (min(times) - 1, max(times) + 1)]
        ids = [uuid.UUID(int=entry[0]) for entry in chunk]
        rows = records.filter(created__range=span, uuid__in=ids).values_list("uuid", flat=True)
        found.update(value.int for value in rows)
    return [entry for entry in entries if entry[0] not in found]


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
            "Dropped %d audit records: the buffer held %d records the database did not take for %g s",
            count, MAX_BUFFERED, conf.get("AUDIT_BACKPRESSURE_SECONDS"),
        )  # fmt: skip
        signals.audit_records_dropped.send(sender=None, count=count)
    return count


def flush() -> int:
    """Write the records buffered when the flush begins; return how many were written."""
    with _flush_lock:
        return _flush()


def _flush() -> int:
    # Only what is buffered now: records that requests add meanwhile wait for the next flush, in a
    # full batch, rather than keep this loop writing them one transaction at a time. A batch stays in
    # the buffer (and its lines in the spool) until it is written.
    report_dropped()
    with _lock:
        if _spool[0] is not None:
            _spool[0].rotate()
        left = len(_buffer)
    written = 0
    while _buffer and left > 0:
        batch = [_buffer[index] for index in range(min(left, conf.get("AUDIT_BATCH_SIZE"), len(_buffer)))]
        entries = [entry for entry, _ in batch]
        try:
            if _uncertain.intersection(entry[0] for entry in entries):
                entries = _unwritten(entries)
            if entries:
                _insert(entries)
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
        with _lock:
            for _ in batch:
                _buffer.popleft()
            if _spool[0] is not None:
                _spool[0].done(segment for _, segment in batch)
            _stalled["since"] = None
            _room.notify_all()
        left -= len(batch)
        written += len(batch)
    return written


def replay() -> int:
    """Write the records left in the spool directory by processes that are gone, each once (those the
    table has are skipped), deleting each file once written; return how many were written."""
    where = auditspool.directory()
    written = 0
    for path in auditspool.left_files(where) if where else []:
        claimed = auditspool.claim(path)
        if claimed is None:  # its process lives
            continue
        try:
            entries = _unwritten(claimed.entries)
            for start in range(0, len(entries), conf.get("AUDIT_BATCH_SIZE")):
                _insert(entries[start : start + conf.get("AUDIT_BATCH_SIZE")])
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
        while _buffer and time.monotonic() < deadline:
            time.sleep(0.5)
            close_old_connections()
            _flush()
        while _buffer:
            entry, segment = _buffer.popleft()
            _, created, subject, _, client_id, kind, name, outcome, _, size, checksum, _, detail = entry
            logger.error(
                "Audit record not written%s: %s %s %s%s by %s via %s at %s (%d argument bytes, sha256 %s)",
                " (kept in the spool for the next process)" if segment else "",
                kind, name, outcome, f" ({detail})" if detail else "", subject, client_id,
                datetime.fromtimestamp(created, tz=UTC).isoformat(), size, checksum,
            )  # fmt: skip
        with _lock:  # its files are deleted, or left to the next process when records wait in them
            if _spool[0] is not None:
                _spool[0].close()
                _spool[0] = None


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


def _after_fork_in_child() -> None:
    # The parent writes what it buffered, and its spool files stay its own (locked while it lives);
    # this process starts afresh, with ids of its own and no writer thread yet.
    global _lock, _room, _dropped_lock, _wake, _start_lock, _flush_lock, _id_base, _id_count
    if _spool[0] is not None:
        _spool[0].abandon()
        _spool[0] = None
    _buffer.clear()
    _dropped[0] = 0
    _stalled["since"] = None
    _state["thread"] = None
    _uncertain.clear()
    _lock, _dropped_lock, _wake = threading.Lock(), threading.Lock(), threading.Event()
    _room = threading.Condition(_lock)
    _start_lock, _flush_lock = threading.Lock(), threading.Lock()
    _id_base, _id_count = int.from_bytes(os.urandom(8)) << 64, itertools.count()


os.register_at_fork(after_in_child=_after_fork_in_child)

"""Audit records at shutdown: written, waited for while the database is down, never silently dropped."""

from __future__ import annotations

import logging
import time
import types

from django.db import OperationalError

from mcpserver import audit
from mcpserver.auth import AccessToken

CALLER = AccessToken("d" * 64, "sub-1", "client-1", None, frozenset(), frozenset(), 2**40)


def _record(message: str = "x") -> None:
    audit.record(CALLER, "tool", "echo", "ok", 1.0, {"message": message}, "2025-11-25")


def test_at_exit_records_wait_for_a_database_that_comes_back(mcp_settings, settings, monkeypatch):
    settings.MCPSERVER = {**settings.MCPSERVER, "AUDIT_EXIT_WAIT_SECONDS": 5}
    written, attempts = [], []

    def insert(batch):
        attempts.append(len(batch))
        if len(attempts) < 3:
            raise OperationalError("the database system is starting up")
        written.extend(batch)

    monkeypatch.setattr(audit, "_insert", insert)
    monkeypatch.setattr(audit, "close_old_connections", lambda: None)
    _record()
    _record()
    audit.flush_at_exit()
    assert len(written) == 2 and audit.pending() == 0


def test_at_exit_records_the_database_never_takes_go_to_the_error_log(
    mcp_settings, settings, monkeypatch, caplog
):
    settings.MCPSERVER = {**settings.MCPSERVER, "AUDIT_EXIT_WAIT_SECONDS": 0}

    def insert(batch):
        raise OperationalError("connection refused")

    monkeypatch.setattr(audit, "_insert", insert)
    _record("kept in the log")
    with caplog.at_level(logging.ERROR, logger="mcpserver.audit"):
        audit.flush_at_exit()
    assert audit.pending() == 0
    size, checksum = audit.digest({"message": "kept in the log"})
    (line,) = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("Audit record not written")
    ]
    assert "tool echo ok by sub-1 via client-1" in line
    assert f"({size} argument bytes, sha256 {checksum})" in line
    assert "kept in the log" not in line  # arguments are never logged, only their digest


def test_a_denial_keeps_its_reason_in_the_table_and_in_the_exit_log(
    mcp_settings, db, settings, monkeypatch, caplog
):
    from mcpserver.models import AuditRecord

    audit.record(CALLER, "tool", "echo", "denied", 0.1, None, "2026-07-28", "missing scope: mcp:tools")
    assert audit.flush() == 1
    stored = AuditRecord.objects.get()
    assert (stored.outcome, stored.detail) == ("denied", "missing scope: mcp:tools")
    audit.record(CALLER, "tool", "echo", "ok", 1.0, None, "2026-07-28")
    assert audit.flush() == 1
    assert AuditRecord.objects.filter(outcome="ok").get().detail == ""

    settings.MCPSERVER = {**settings.MCPSERVER, "AUDIT_EXIT_WAIT_SECONDS": 0}
    monkeypatch.setattr(audit, "_insert", lambda batch: (_ for _ in ()).throw(OperationalError("down")))
    audit.record(CALLER, "tool", "echo", "denied", 0.1, None, "2026-07-28", "needs one of the roles: admin")
    with caplog.at_level(logging.ERROR, logger="mcpserver.audit"):
        audit.flush_at_exit()
    assert "tool echo denied (needs one of the roles: admin) by sub-1" in caplog.text


def test_at_exit_a_batch_the_writer_thread_is_holding_is_not_lost(mcp_settings, settings, monkeypatch):
    """The background writer may have taken a batch off the buffer (its INSERT waiting on a database
    that is down) when the worker exits: the exit flush must wait for it, not find the buffer empty
    and let the process end with the batch in a dying thread."""
    import threading

    settings.MCPSERVER = {**settings.MCPSERVER, "AUDIT_EXIT_WAIT_SECONDS": 5, "AUDIT_BACKGROUND": False}
    written, attempts = [], []
    holding, release = threading.Event(), threading.Event()

    def insert(batch):
        attempts.append(len(batch))
        if len(attempts) == 1:  # the writer thread's attempt: slow, then refused
            holding.set()
            release.wait(5)
            raise OperationalError("the database system is starting up")
        written.extend(batch)

    monkeypatch.setattr(audit, "_insert", insert)
    monkeypatch.setattr(audit, "close_old_connections", lambda: None)
    for message in ("a", "b", "c"):
        _record(message)
    writer = threading.Thread(target=audit.flush)
    writer.start()
    assert holding.wait(5) and audit.pending() == 0  # the batch is in the writer's hands
    exiting = threading.Thread(target=audit.flush_at_exit)
    exiting.start()
    release.set()
    writer.join(5)
    exiting.join(10)
    assert len(written) == 3 and audit.pending() == 0


def test_a_batch_is_written_in_a_few_multi_row_statements_with_every_field(mcp_settings, db):
    """executemany stepped the INSERT once per row, giving up the GIL each time (a 500-record batch
    took up to 0.8 s under load); a batch is a handful of multi-row statements instead."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from mcpserver.models import AuditRecord

    for number in range(200):
        audit.record(CALLER, "tool", "echo", "ok", number / 10, {"message": str(number)}, "2025-11-25")
    with CaptureQueriesContext(connection) as queries:
        assert audit.flush() == 200
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    if connection.vendor == "postgresql":
        assert inserts == []  # one COPY, which Django's query capture does not see
    else:
        per_statement = (connection.features.max_query_params or 10_000) // len(audit.COLUMNS)
        assert len(inserts) == -(-200 // per_statement) < 200
    rows = list(AuditRecord.objects.order_by("duration_ms").values_list("duration_ms", "argument_digest"))
    assert len(rows) == 200
    assert rows[7] == (0.7, audit.digest({"message": "7"})[1])


def test_a_flush_writes_what_was_buffered_when_it_began(mcp_settings, monkeypatch):
    """Records that requests add during a flush wait for the next one (in a full batch) instead of
    keeping the writer in a loop of one-record transactions."""
    written = []

    def insert(batch):
        written.append(len(batch))
        _record("added while the first batch is written")

    monkeypatch.setattr(audit, "_insert", insert)
    for message in ("a", "b", "c"):
        _record(message)
    assert audit.flush() == 3 and written == [3]
    assert audit.pending() == 1
    assert audit.flush() == 1 and written == [3, 1]


def test_building_a_batch_gives_the_gil_back_between_slices(mcp_settings, db, monkeypatch):
    """500 rows built at once held the GIL for ~4 ms, stalling the worker's request threads: no more
    than ``ROWS_BETWEEN_YIELDS`` rows are built without offering the other threads a turn, and every
    row is still written."""
    events = []
    build_row = audit._row
    monkeypatch.setattr(audit, "_row", lambda *args: events.append("row") or build_row(*args))
    # The audit module's own view of ``time`` only: replacing time.sleep itself would also turn
    # every other thread's sleep (the log writer's, say) into an append.
    clock = {name: getattr(time, name) for name in ("time", "monotonic", "perf_counter")}
    monkeypatch.setattr(audit, "time", types.SimpleNamespace(**clock, sleep=lambda s: events.append("turn")))
    total = 2 * audit.ROWS_BETWEEN_YIELDS + 1
    for number in range(total):
        _record(str(number))
    assert audit.flush() == total
    assert events.count("row") == total
    stretches = " ".join(events).split("turn")  # rows built between two turns offered
    assert max(stretch.split().count("row") for stretch in stretches) <= audit.ROWS_BETWEEN_YIELDS


def test_a_flushed_record_stores_its_time_exactly_as_the_orm_would(mcp_settings, db):
    """The rows' timestamps are built without the backend's per-value adaptation; the stored value
    must still be the ORM's own, byte for byte (ordering and the retention cut-off compare them)."""
    from datetime import UTC, datetime

    from django.db import connection

    from mcpserver.models import AuditRecord

    created = 1_790_000_000.123456
    audit._buffer.append((created, CALLER, "tool", "echo", "ok", 1.0, {}, "2025-11-25", ""))
    assert audit.flush() == 1
    AuditRecord.objects.create(
        created=datetime.fromtimestamp(created, tz=UTC), subject="orm", kind="tool", name="echo",
        outcome="ok", duration_ms=1.0,
    )  # fmt: skip
    table = connection.ops.quote_name(AuditRecord._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT subject, created FROM {table}")  # noqa: S608
        stored = dict(cursor.fetchall())
    assert stored["sub-1"] == stored["orm"]
    assert AuditRecord.objects.get(subject="sub-1").created == datetime.fromtimestamp(created, tz=UTC)


class _Ops:
    def __init__(self, adapt):
        self.adapt_datetimefield_value = adapt


class _Connection:
    def __init__(self, adapt, zone):
        self.ops, self.timezone = _Ops(adapt), zone


def test_the_timestamp_fast_path_agrees_with_the_backend_in_any_time_zone_and_falls_back_otherwise(settings):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    settings.USE_TZ = True
    paris = ZoneInfo("Europe/Paris")
    # Around a DST change (2026-10-25 01:00 UTC), to the microsecond.
    instants = [1_792_890_000 + step * 599.999937 for step in range(12)]

    calls = []

    def like_sqlite(value):
        calls.append(value)
        return str(timezone.make_naive(value, paris))

    fast = audit._timestamp_adapter(_Connection(like_sqlite, paris), instants[0])
    rows = [fast(t) for t in instants]
    assert len(calls) == 1  # only the probe: the rows were built directly
    assert rows == [like_sqlite(datetime.fromtimestamp(t, tz=UTC)) for t in instants]

    calls.clear()

    def like_postgresql(value):
        calls.append(value)
        return value

    fast = audit._timestamp_adapter(_Connection(like_postgresql, UTC), instants[0])
    assert [fast(t) for t in instants] == [datetime.fromtimestamp(t, tz=UTC) for t in instants]
    assert len(calls) == 1

    calls.clear()

    def unusual(value):
        calls.append(value)
        return value.strftime("%Y%m%d%H%M%S%f")

    fast = audit._timestamp_adapter(_Connection(unusual, UTC), instants[0])
    assert fast(instants[3]) == datetime.fromtimestamp(instants[3], tz=UTC).strftime("%Y%m%d%H%M%S%f")
    assert len(calls) == 2  # the probe, then every row through the backend's own adaptation


def test_any_text_survives_the_copy_unchanged(mcp_settings, db):
    """Tabs, newlines, backslashes, ``\\N`` (NULL in the text COPY format) and non-ASCII text are field
    values like any other (the text format gives each a meaning; the binary one, used on PostgreSQL, none)."""
    from mcpserver.models import AuditRecord

    awkward = "tab\there\nnew line \\N back\\slash 'quote\" ünïcødé 🙂"
    caller = types.SimpleNamespace(subject=awkward, username=awkward[:150], client_id=awkward)
    audit.record(caller, "tool", awkward, "ok", 12.3456789, {"a": 1}, "2025-11-25")
    assert audit.flush() == 1
    stored = AuditRecord.objects.get()
    assert (stored.subject, stored.username, stored.client_id, stored.name) == (awkward,) * 4
    assert stored.duration_ms == 12.346 and stored.argument_bytes == len('{"a":1}')


def test_the_audit_table_keeps_no_b_tree_per_row_but_its_key_and_a_time_index(db):
    """Every index is written for each of thousands of records a second: the primary key, and an index
    on ``created`` that is BRIN on PostgreSQL (next to nothing per insert) and a B-tree elsewhere."""
    from django.db import connection

    from mcpserver.models import AuditRecord

    table = AuditRecord._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    indexes = {
        tuple(info["columns"]): info["type"]
        for info in constraints.values()
        if info["index"] and not info["primary_key"]
    }
    assert indexes == {("created",): "brin" if connection.vendor == "postgresql" else "idx"}


def test_records_list_newest_written_first(mcp_settings, db):
    """The admin's order, read from the primary key backwards (no sort of the whole table)."""
    from mcpserver.models import AuditRecord

    for message in ("first", "second", "third"):
        _record(message)
        audit.flush()
    digests = [record.argument_digest for record in AuditRecord.objects.all()]
    assert digests == [audit.digest({"message": m})[1] for m in ("third", "second", "first")]
    assert str(AuditRecord.objects.all().query).endswith('ORDER BY "mcpserver_auditrecord"."id" DESC')


def _dropped_signals():
    from mcpserver import signals

    counts = []

    def receiver(sender, count=0, **kwargs):
        counts.append(count)

    signals.audit_records_dropped.connect(receiver, weak=False, dispatch_uid="test-audit-dropped")
    return counts, lambda: signals.audit_records_dropped.disconnect(dispatch_uid="test-audit-dropped")


def test_a_full_buffer_drops_the_oldest_and_says_so_once(mcp_settings, monkeypatch, caplog):
    """Beyond the buffer's bound a record is lost: never silently (an ERROR line and a metric per flush)."""
    from collections import deque

    from observability import metrics

    monkeypatch.setattr(audit, "_buffer", deque(maxlen=3))
    counts, disconnect = _dropped_signals()
    before = metrics.AUDIT_DROPPED._value.get()
    try:
        for n in range(5):
            _record(f"message {n}")
        monkeypatch.setattr(audit, "_insert", lambda batch: (_ for _ in ()).throw(OperationalError("down")))
        with caplog.at_level(logging.ERROR, logger="mcpserver.audit"):
            audit.flush()
            audit.flush()  # nothing lost since the first report: no second line
    finally:
        disconnect()
    kept = [entry[6]["message"] for entry in audit._buffer]
    assert kept == ["message 2", "message 3", "message 4"]  # the newest are kept
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Dropped")]
    assert lines == ["Dropped 2 audit records: the buffer holds at most 3 while the database refuses them"]
    assert counts == [2]
    assert metrics.AUDIT_DROPPED._value.get() - before == 2


def test_a_batch_put_back_onto_a_buffer_that_filled_meanwhile_counts_what_it_loses(mcp_settings, monkeypatch):
    from collections import deque

    monkeypatch.setattr(audit, "_buffer", deque(maxlen=4))
    for n in range(3):
        _record(f"early {n}")

    def insert(batch):  # while the write fails, requests fill the buffer up
        for n in range(4):
            _record(f"late {n}")
        raise OperationalError("down")

    monkeypatch.setattr(audit, "_insert", insert)
    counts, disconnect = _dropped_signals()
    try:
        audit.flush()
        assert audit.report_dropped() == 3  # the put-back batch of 3 found the buffer full
    finally:
        disconnect()
    assert len(audit._buffer) == 4

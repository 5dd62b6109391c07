"""The audit trail's writer: every accepted call's record reaches the table once, through a slow or
unreachable database, a graceful shutdown or a killed process; what is lost is never lost silently."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import hypothesis
import pytest
from django.db import OperationalError
from hypothesis import strategies as st

from mcpserver import audit
from mcpserver.audit import buffer, tables, trail
from mcpserver.auth import AccessToken

ROOT = Path(__file__).resolve().parents[2]
CALLER = AccessToken("d" * 64, "sub-1", "client-1", None, frozenset(), frozenset(), 2**40)


def _configure(settings, **values) -> None:
    settings.MCPSERVER = {**settings.MCPSERVER, **values}


def _record(message: str = "x") -> None:
    audit.record(CALLER, "tool", "echo", "ok", 1.0, {"message": message}, "2025-11-25")


def test_at_exit_records_wait_for_a_database_that_comes_back(mcp_settings, settings, monkeypatch, db):
    settings.MCPSERVER = {**settings.MCPSERVER, "AUDIT_EXIT_WAIT_SECONDS": 5}
    written, attempts = [], []

    def insert(batch):
        attempts.append(len(batch))
        if len(attempts) < 3:
            raise OperationalError("the database system is starting up")
        written.extend(batch)

    monkeypatch.setattr(tables, "insert", insert)
    monkeypatch.setattr("mcpserver.audit.writer.close_old_connections", lambda: None)
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

    monkeypatch.setattr(tables, "insert", insert)
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


def _reference_digest(arguments) -> tuple[int, str]:
    # The canonical form as docs/operations.md states it, for an investigator to recompute.
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":")).encode()
    return len(canonical), hashlib.sha256(canonical).hexdigest()


_ASCII_TEXT = st.text(alphabet=st.characters(max_codepoint=0x7F, exclude_categories=["Cs"]), max_size=8)
_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # beyond 64 bits too (orjson refuses those)
    | st.floats(allow_nan=True, allow_infinity=True)  # every magnitude: 1e-05, 1e-07, 1e+16, NaN
    | _ASCII_TEXT  # DEL and control characters included
    | st.text(max_size=4)  # beyond ASCII
    | st.sampled_from(["e-mail", "a:1.5", "[1e5", "x,null", "\x7f", "caf\u00e9", "\u2028"])
)
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_ASCII_TEXT, children, max_size=4),
    max_leaves=12,
)


@hypothesis.settings(max_examples=500, deadline=None)
@hypothesis.given(st.dictionaries(_ASCII_TEXT | st.text(max_size=3), _JSON_VALUES, min_size=1, max_size=5))
def test_the_digest_is_the_sha256_of_compact_sorted_ascii_json_whichever_encoder_writes_it(arguments):
    """Most arguments are written by orjson, the others by the standard library: the bytes digested
    are the same either way (the canonical form never changes with the encoder that wrote it)."""
    assert audit.digest(arguments) == _reference_digest(arguments)


@pytest.mark.parametrize(
    ("arguments", "canonical"),
    [
        ({"message": "hello", "count": 3, "ok": True}, b'{"count":3,"message":"hello","ok":true}'),
        ({"b": {"d": 1, "c": [2, 1]}, "a": []}, b'{"a":[],"b":{"c":[2,1],"d":1}}'),
        ({"n": 2.5, "m": -0.0, "l": 1e16}, b'{"l":1e+16,"m":-0.0,"n":2.5}'),
        ({"n": 1e-05}, b'{"n":1e-05}'),  # orjson: 0.00001
        ({"n": 1.5e-07}, b'{"n":1.5e-07}'),  # orjson: 1.5e-7
        ({"n": float("nan"), "i": float("-inf")}, b'{"i":-Infinity,"n":NaN}'),  # orjson: null
        ({"v": None}, b'{"v":null}'),
        ({"n": 2**64}, b'{"n":18446744073709551616}'),  # orjson refuses it
        ({"t": "\x7f\x00\n"}, b'{"t":"\\u007f\\u0000\\n"}'),  # orjson leaves DEL as it is
        ({"t": "caf\u00e9 \U0001f600"}, b'{"t":"caf\\u00e9 \\ud83d\\ude00"}'),  # orjson: UTF-8
    ],
)
def test_the_digest_of_arguments_is_pinned(arguments, canonical):
    """The canonical form, pinned, including each case where orjson would write other bytes."""
    assert audit.digest(arguments) == (len(canonical), hashlib.sha256(canonical).hexdigest())


def test_the_digest_of_what_is_not_json_is_its_repr():
    assert audit.digest({1: "a", "b": 2})[0] == len(repr({1: "a", "b": 2}))  # keys that cannot be sorted
    assert audit.digest({}) == audit.digest(None) == (0, "")


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
    monkeypatch.setattr(tables, "insert", lambda batch: (_ for _ in ()).throw(OperationalError("down")))
    audit.record(CALLER, "tool", "echo", "denied", 0.1, None, "2026-07-28", "needs one of the roles: admin")
    with caplog.at_level(logging.ERROR, logger="mcpserver.audit"):
        audit.flush_at_exit()
    assert "tool echo denied (needs one of the roles: admin) by sub-1" in caplog.text


def test_at_exit_a_batch_the_writer_thread_is_holding_is_not_lost(mcp_settings, settings, monkeypatch, db):
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

    monkeypatch.setattr(tables, "insert", insert)
    monkeypatch.setattr("mcpserver.audit.writer.close_old_connections", lambda: None)
    for message in ("a", "b", "c"):
        _record(message)
    writer = threading.Thread(target=audit.flush)
    writer.start()
    assert holding.wait(5) and audit.pending() == 3  # in the writer's hands, and buffered until written
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
    connection.ensure_connection()
    statements = []
    if connection.vendor == "sqlite":  # written through the DB-API connection: sqlite3's own trace
        connection.connection.set_trace_callback(statements.append)
    try:
        with CaptureQueriesContext(connection) as queries:
            assert audit.flush() == 200
    finally:
        if connection.vendor == "sqlite":
            connection.connection.set_trace_callback(None)
    statements += [q["sql"] for q in queries.captured_queries]
    inserts = [sql for sql in statements if sql.startswith("INSERT")]
    if connection.vendor == "postgresql":
        assert inserts == []  # one COPY, which Django's query capture does not see
    else:
        per_statement = (connection.features.max_query_params or 10_000) // len(tables.COLUMNS)
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

    monkeypatch.setattr(tables, "insert", insert)
    for message in ("a", "b", "c"):
        _record(message)
    assert audit.flush() == 3 and written == [3]
    assert audit.pending() == 1
    assert audit.flush() == 1 and written == [3, 1]


def test_records_added_during_a_flush_wake_the_writer_for_a_full_batch_of_their_own(
    mcp_settings, settings, monkeypatch
):
    """The batch being written still counts as buffered (a killed worker's spool holds it), but not
    towards the next batch: otherwise the writer would start again the moment it ends, with the few
    records that came in meanwhile."""
    from mcpserver.audit import writer

    _configure(settings, AUDIT_BACKGROUND=True, AUDIT_BATCH_SIZE=3)
    monkeypatch.setattr(writer, "ensure_started", lambda: None)
    woken = []
    monkeypatch.setattr(writer, "wake", lambda: woken.append(audit.pending()))

    def insert(batch):
        for number in range(len(woken), len(woken) + 2):
            _record(f"during the flush {number}")

    monkeypatch.setattr(tables, "insert", insert)
    for message in ("a", "b", "c"):
        _record(message)
    assert woken == [3]  # a full batch
    assert audit.flush() == 3 and audit.pending() == 2 and woken == [3]  # 5 buffered, 2 of them new
    _record("the third new one")
    assert woken == [3, 3]

def test_building_a_batch_gives_the_gil_back_between_slices(mcp_settings, db, monkeypatch):
    """500 rows built at once held the GIL for ~4 ms, stalling the worker's request threads: no more
    than ``ROWS_BETWEEN_YIELDS`` rows are built without offering the other threads a turn, and every
    row is still written."""
    events = []
    build_row = tables._row
    monkeypatch.setattr(tables, "_row", lambda *args: events.append("row") or build_row(*args))
    # The audit module's own view of ``time`` only: replacing time.sleep itself would also turn
    # every other thread's sleep (the log writer's, say) into an append.
    clock = {name: getattr(time, name) for name in ("time", "monotonic", "perf_counter")}
    monkeypatch.setattr(tables, "time", types.SimpleNamespace(**clock, sleep=lambda s: events.append("turn")))
    total = 2 * tables.ROWS_BETWEEN_YIELDS + 1
    for number in range(total):
        _record(str(number))
    assert audit.flush() == total
    assert events.count("row") == total
    stretches = " ".join(events).split("turn")  # rows built between two turns offered
    assert max(stretch.split().count("row") for stretch in stretches) <= tables.ROWS_BETWEEN_YIELDS


def test_a_flushed_record_stores_its_time_exactly_as_the_orm_would(mcp_settings, db):
    """The rows' timestamps are built without the backend's per-value adaptation; the stored value
    must still be the ORM's own, byte for byte (ordering and the retention cut-off compare them)."""
    from datetime import UTC, datetime

    from django.db import connection

    from mcpserver.models import AuditRecord

    created = 1_790_000_000.123456
    clock = {name: getattr(time, name) for name in ("monotonic", "perf_counter", "sleep")}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trail, "time", types.SimpleNamespace(**clock, time=lambda: created))
        _record()
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
    stored = AuditRecord.objects.get(subject="sub-1")
    assert stored.created == datetime.fromtimestamp(created, tz=UTC)
    assert AuditRecord.objects.get(uuid=stored.uuid) == stored  # the id's stored form is the ORM's too


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
    # Rounding to the microsecond (half to even, carried into the next second), a whole second.
    instants += [
        1_792_893_600 + fraction for fraction in (0.9999995, 0.9999994, 0.0000005, 0.0000015, 0.0, 0.5)
    ]

    calls = []

    def like_sqlite(value):
        calls.append(value)
        return str(timezone.make_naive(value, paris))

    fast = tables._timestamp_adapter(_Connection(like_sqlite, paris), instants[0])
    rows = [fast(t) for t in instants]
    assert len(calls) == 1  # only the probe: the rows were built directly
    assert rows == [like_sqlite(datetime.fromtimestamp(t, tz=UTC)) for t in instants]

    calls.clear()

    def like_postgresql(value):
        calls.append(value)
        return value

    fast = tables._timestamp_adapter(_Connection(like_postgresql, UTC), instants[0])
    assert [fast(t) for t in instants] == [datetime.fromtimestamp(t, tz=UTC) for t in instants]
    assert len(calls) == 1

    calls.clear()

    def unusual(value):
        calls.append(value)
        return value.strftime("%Y%m%d%H%M%S%f")

    fast = tables._timestamp_adapter(_Connection(unusual, UTC), instants[0])
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


def test_a_full_buffer_makes_the_next_record_wait_for_the_writer(mcp_settings, settings, monkeypatch, db):
    """Back-pressure: a slow database slows the calls down rather than losing their records."""
    import threading

    from mcpserver.models import AuditRecord

    monkeypatch.setattr(buffer, "MAX_BUFFERED", 2)
    _configure(settings, AUDIT_BACKPRESSURE_SECONDS=10)
    _record("first")
    _record("second")
    waiting = threading.Thread(target=_record, args=("third",))
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive() and audit.pending() == 2  # held back, not dropped
    assert audit.flush() == 2
    waiting.join(5)
    assert not waiting.is_alive() and audit.pending() == 1
    assert audit.flush() == 1
    assert AuditRecord.objects.count() == 3 and audit.report_dropped() == 0


def test_past_the_wait_a_record_is_dropped_counted_and_reported_and_the_next_do_not_wait(
    mcp_settings, settings, monkeypatch, caplog
):
    """A database that takes nothing for the whole wait is down, not slow: the record is lost, and
    said (an ERROR line and a metric per flush); the following records are dropped at once instead
    of each stalling its call, until the writer makes room again."""
    from observability import metrics

    monkeypatch.setattr(buffer, "MAX_BUFFERED", 3)
    _configure(settings, AUDIT_BACKPRESSURE_SECONDS=0.3)
    counts, disconnect = _dropped_signals()
    before = metrics.AUDIT_DROPPED._value.get()
    try:
        for n in range(3):
            _record(f"kept {n}")
        started = time.monotonic()
        _record("waits, then is dropped")
        assert 0.25 <= time.monotonic() - started < 3
        started = time.monotonic()
        _record("dropped at once")
        assert time.monotonic() - started < 0.1
        monkeypatch.setattr(tables, "insert", lambda batch: (_ for _ in ()).throw(OperationalError("down")))
        with caplog.at_level(logging.ERROR, logger="mcpserver.audit"):
            audit.flush()
            audit.flush()  # nothing lost since the first report: no second line
    finally:
        disconnect()
    assert audit.pending() == 3  # the oldest are kept, in order, for when the database is back
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Dropped")]
    assert lines == ["Dropped 2 audit records: the buffer held 3 records the database did not take for 0.3 s"]
    assert counts == [2]
    assert metrics.AUDIT_DROPPED._value.get() - before == 2


def test_a_failed_write_loses_nothing_even_if_the_buffer_filled_meanwhile(
    mcp_settings, settings, monkeypatch, db
):
    """A batch being written still counts against the buffer's bound: records made during a failing
    write wait (or are dropped and counted) instead of the failed batch being cut when it goes back."""
    from mcpserver.models import AuditRecord

    monkeypatch.setattr(buffer, "MAX_BUFFERED", 4)
    _configure(settings, AUDIT_BACKPRESSURE_SECONDS=0)
    for n in range(3):
        _record(f"early {n}")
    real_insert = tables.insert

    def insert(batch):  # while the write fails, requests try to fill the buffer up
        for n in range(4):
            _record(f"late {n}")
        raise OperationalError("down")

    monkeypatch.setattr(tables, "insert", insert)
    assert audit.flush() == 0
    assert audit.report_dropped() == 3  # only one late record found room; the failed batch is whole
    monkeypatch.setattr(tables, "insert", real_insert)
    assert audit.flush() == 4
    digests = {r.argument_digest for r in AuditRecord.objects.all()}
    assert digests == {audit.digest({"message": m})[1] for m in ("early 0", "early 1", "early 2", "late 0")}


def test_a_write_retried_after_an_uncertain_commit_is_not_written_twice(mcp_settings, monkeypatch, db):
    """A connection lost during COMMIT leaves it unknown whether the batch is in: the retry writes only
    the records the table does not have."""
    from mcpserver.models import AuditRecord

    real_insert, calls = tables.insert, []

    def committed_then_failed(batch):
        calls.append(len(batch))
        real_insert(batch)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(tables, "insert", committed_then_failed)
    for n in range(3):
        _record(str(n))
    assert audit.flush() == 0 and audit.pending() == 3
    _record("3")
    assert audit.flush() == 4 and audit.pending() == 0
    assert AuditRecord.objects.count() == 4


# --- the write-ahead spool ---


def _spool_dir(mcp_settings) -> Path:
    return Path(mcp_settings["AUDIT_SPOOL_DIR"])


def _spool_lines(mcp_settings) -> list[bytes]:
    paths = sorted(_spool_dir(mcp_settings).iterdir())
    return [line for path in paths for line in path.read_bytes().rstrip(b"\0").splitlines()]


# A worker process: records, says so, then (optionally once its stdin closes) dies by SIGKILL,
# its buffer never written.
WORKER = r"""
import os, signal, sys
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
django.setup()
from django.conf import settings
settings.MCPSERVER = {**settings.MCPSERVER, "AUDIT_SPOOL_DIR": sys.argv[1], "AUDIT_BACKGROUND": False}
from mcpserver import audit
from mcpserver.auth import AccessToken
caller = AccessToken("f" * 64, "sub-killed", "client-1", "alice", frozenset(), frozenset(), 2**40)
for number in range(int(sys.argv[2])):
    audit.record(caller, "tool", "echo", "ok", 1.0, {"message": f"killed {number}"}, "2025-11-25")
print("recorded", flush=True)
if sys.argv[3:] == ["wait"]:
    sys.stdin.read()
os.kill(os.getpid(), signal.SIGKILL)
"""


def _worker(mcp_settings, records: int, wait: bool = False) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, mcp_settings["AUDIT_SPOOL_DIR"], str(records), "wait" * wait],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout.readline() == "recorded\n"
    return process


def _killed_worker(mcp_settings, records: int) -> None:
    process = _worker(mcp_settings, records)
    assert process.wait(30) == -signal.SIGKILL
    process.stdout.close()
    process.stdin.close()


def _killed_digests(records: int) -> set[str]:
    return {audit.digest({"message": f"killed {n}"})[1] for n in range(records)}


def test_a_killed_process_records_are_written_once_by_the_next_one(mcp_settings, db):
    from mcpserver.models import AuditRecord

    _killed_worker(mcp_settings, 5)
    assert len(_spool_lines(mcp_settings)) == 5
    assert audit.replay() == 5
    assert audit.replay() == 0
    assert list(_spool_dir(mcp_settings).iterdir()) == []  # replayed, then deleted
    rows = AuditRecord.objects.all()
    assert {r.argument_digest for r in rows} == _killed_digests(5) and len(rows) == 5
    assert {(r.subject, r.username, r.client_id, r.outcome) for r in rows} == {
        ("sub-killed", "alice", "client-1", "ok")
    }


def test_replay_never_takes_a_live_process_file(mcp_settings, db):
    from mcpserver.models import AuditRecord

    _record("this process's own")
    process = _worker(mcp_settings, 3, wait=True)
    try:
        assert audit.replay() == 0  # both files are locked by live processes
        assert len(_spool_lines(mcp_settings)) == 4
    finally:
        process.stdin.close()  # it dies now
        assert process.wait(30) == -signal.SIGKILL
        process.stdout.close()
    assert audit.replay() == 3
    assert audit.flush() == 1
    assert AuditRecord.objects.count() == 4


def test_a_replay_after_a_crash_mid_commit_writes_only_what_is_missing(mcp_settings, db):
    """Killed between a batch's commit and the file's deletion (the live owner, or an earlier replay):
    the records the table already has are not written again."""
    from mcpserver.audit import spool
    from mcpserver.models import AuditRecord

    _killed_worker(mcp_settings, 5)
    entries, torn = spool.parse(b"\n".join(_spool_lines(mcp_settings)))
    assert len(entries) == 5 and torn == 0
    tables.insert(entries[:2])  # what the dead process had committed
    assert audit.replay() == 3
    assert AuditRecord.objects.count() == 5
    assert {r.argument_digest for r in AuditRecord.objects.all()} == _killed_digests(5)


def test_the_spool_holds_every_record_the_database_does_not_have(mcp_settings, monkeypatch, db):
    """Every record not yet in the table has its line in the spool; the file being written is emptied
    when nothing waits, and a full file goes once its records are in (a busy process keeps two files
    at most, whatever its rate)."""
    from mcpserver.audit import buffer, spool

    real_insert = tables.insert
    for n in range(10):
        _record(str(n))
    assert len(_spool_lines(mcp_settings)) == 10
    assert audit.flush() == 10
    assert _spool_lines(mcp_settings) == []

    def insert_while_busy(batch):  # requests keep coming while every batch is written
        real_insert(batch)
        _record("during the write")

    monkeypatch.setattr(spool, "CAPACITY", 2048)
    monkeypatch.setattr(tables, "insert", insert_while_busy)
    for _ in range(30):
        _record("before the write")
        assert audit.flush() >= 1
        assert len(list(_spool_dir(mcp_settings).iterdir())) <= 2
        assert audit.pending() == 1
        ((waiting, _),) = buffer._buffer
        assert spool.encode(waiting).rstrip(b"\n") in _spool_lines(mcp_settings)


def test_the_spool_holds_neither_token_values_nor_arguments(mcp_settings):
    """A line holds what the table does: who (subject, username, client), what, outcome, and the
    arguments' size and digest."""
    caller = types.SimpleNamespace(
        digest="c" * 64, token_id="jti-secret", subject="sub-1", username="alice", client_id="client-1"
    )
    audit.record(caller, "tool", "echo", "ok", 1.0, {"password": "hunter2-argument"}, "2025-11-25")
    (line,) = _spool_lines(mcp_settings)
    assert b"c" * 64 not in line and b"jti-secret" not in line and b"hunter2-argument" not in line
    assert audit.digest({"password": "hunter2-argument"})[1].encode() in line
    assert b'"sub-1","alice","client-1","tool","echo","ok"' in line


def test_a_graceful_exit_leaves_no_spool_and_an_outage_leaves_it_to_the_next_process(
    mcp_settings, settings, monkeypatch, db, caplog
):
    from mcpserver.models import AuditRecord

    _record("written at exit")
    audit.flush_at_exit()
    assert list(_spool_dir(mcp_settings).iterdir()) == []

    _configure(settings, AUDIT_EXIT_WAIT_SECONDS=0)
    real_insert = tables.insert
    monkeypatch.setattr(tables, "insert", lambda batch: (_ for _ in ()).throw(OperationalError("down")))
    _record("the database is down at exit")
    with caplog.at_level(logging.ERROR, logger="mcpserver.audit"):
        audit.flush_at_exit()
    assert "kept in the spool for the next process" in caplog.text
    monkeypatch.setattr(tables, "insert", real_insert)
    _record("the next process's own")  # in a file of its own
    assert audit.replay() == 1 and audit.flush() == 1
    assert AuditRecord.objects.count() == 3


def test_a_forked_child_spools_into_files_of_its_own(mcp_settings, db):
    """The child must neither write its records into its parent's (locked, live) files nor inherit
    the parent's buffer: a killed child's records are replayed, the parent's stay its own."""
    from mcpserver.models import AuditRecord

    _record("the parent's")
    pid = os.fork()
    if pid == 0:
        try:
            _record("the child's")
            os._exit(0 if audit.pending() == 1 else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert audit.replay() == 1  # the child's file (its process is gone)
    assert audit.flush() == 1  # the parent's record, from its buffer
    assert AuditRecord.objects.count() == 2
    assert {r.argument_digest for r in AuditRecord.objects.all()} == {
        audit.digest({"message": m})[1] for m in ("the parent's", "the child's")
    }


def test_spooling_costs_a_record_a_few_microseconds(mcp_settings, settings):
    """One line of JSON copied into a mapped file per record (no system call), before the call is answered."""

    def per_record(spool: bool) -> float:
        _configure(settings, AUDIT_SPOOL=spool)
        best = float("inf")
        for _ in range(3):
            buffer._buffer.clear()
            started = time.perf_counter()
            for _ in range(2000):
                _record("measured")
            best = min(best, (time.perf_counter() - started) / 2000)
        buffer._buffer.clear()
        return best

    without, spooled = per_record(False), per_record(True)
    assert len(_spool_lines(mcp_settings)) == 6000
    assert spooled - without < 50e-6  # ~2-3 us on a developer's machine; generous for shared CI


def test_a_full_spool_file_is_followed_by_a_new_one(mcp_settings, settings, monkeypatch, db):
    """Files have a fixed room; a record that does not fit goes to a new file, and every file goes once
    its records are in the table."""
    from mcpserver.audit import spool
    from mcpserver.models import AuditRecord

    monkeypatch.setattr(spool, "CAPACITY", 1024)
    _configure(settings)
    for number in range(12):
        _record(f"record {number}")
    files = sorted(_spool_dir(mcp_settings).iterdir())
    assert len(files) >= 3 and all(path.stat().st_size == 1024 for path in files)
    assert len(_spool_lines(mcp_settings)) == 12
    assert audit.flush() == 12
    assert AuditRecord.objects.count() == 12
    assert _spool_lines(mcp_settings) == []


def test_a_spool_file_has_its_room_reserved_and_a_full_filesystem_leaves_records_in_memory(
    mcp_settings, settings, monkeypatch, caplog
):
    """A line copied into a page of a sparse file on a full filesystem would kill the worker (SIGBUS):
    a file's whole room is reserved when it is made, and a filesystem without that room fails there,
    which keeps the records in memory (said once) rather than losing the process."""
    import errno

    from mcpserver.audit import spool

    _configure(settings)
    _record("spooled")
    (path,) = _spool_dir(mcp_settings).iterdir()
    assert path.stat().st_blocks * 512 >= spool.CAPACITY  # allocated, not sparse

    buffer.close_spool()
    for leftover in _spool_dir(mcp_settings).iterdir():
        leftover.unlink()
    buffer._buffer.clear()

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool.os, "posix_fallocate", full)
    with caplog.at_level(logging.ERROR, logger="mcpserver.audit.spool"):
        _record("kept in memory")
        _record("still kept in memory")
    assert audit.pending() == 2 and list(_spool_dir(mcp_settings).iterdir()) == []
    assert len([r for r in caplog.records if "No space left" in r.getMessage()]) == 1


def test_torn_lines_are_counted_as_lost(mcp_settings, db, caplog):
    """An operating-system crash can leave a file's last line cut or zeroed: the lines that parse are
    written, the others are counted and reported like any lost record."""
    from mcpserver.models import AuditRecord

    _killed_worker(mcp_settings, 2)
    (path,) = _spool_dir(mcp_settings).iterdir()
    with path.open("ab") as file:
        file.write(b'[1,"cut in the mid')
        file.write(b"\0" * 64)
    counts, disconnect = _dropped_signals()
    try:
        with caplog.at_level(logging.ERROR, logger="mcpserver.audit"):
            assert audit.replay() == 2
    finally:
        disconnect()
    assert counts == [1] and AuditRecord.objects.count() == 2
    assert "unreadable line" in caplog.text


def test_an_unusable_spool_directory_fails_the_system_check_and_records_stay_in_memory(
    mcp_settings, settings, tmp_path, caplog
):
    from mcpserver import checks

    assert checks.check_audit_spool(None) == []
    blocked = tmp_path / "a file, not a directory"
    blocked.write_text("")
    _configure(settings, AUDIT_SPOOL_DIR=str(blocked / "spool"))
    assert [m.id for m in checks.check_audit_spool(None)] == ["mcpserver.E005"]
    with caplog.at_level(logging.ERROR, logger="mcpserver.audit.spool"):
        _record("kept in memory")
        _record("still kept in memory")
    assert audit.pending() == 2
    assert len([r for r in caplog.records if "audit spool" in r.getMessage()]) == 1  # said once

    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    _configure(settings, AUDIT_SPOOL_DIR=str(shared))
    (message,) = checks.check_audit_spool(None)
    assert message.id == "mcpserver.E005" and "other users" in message.msg
    _configure(settings, AUDIT_SPOOL=False)
    assert checks.check_audit_spool(None) == []


def test_the_default_spool_directory_is_one_per_database_and_none_for_a_memory_database():
    import tempfile

    from mcpserver.audit import spooldir

    sqlite = {"ENGINE": "django.db.backends.sqlite3", "HOST": "", "PORT": ""}
    one = spooldir.default_directory({**sqlite, "NAME": "/srv/one.sqlite3"})
    two = spooldir.default_directory({**sqlite, "NAME": "/srv/two.sqlite3"})
    assert one != two and os.path.dirname(one) == tempfile.gettempdir()
    postgres = {"ENGINE": "django.db.backends.postgresql", "NAME": "mcp", "HOST": "db", "PORT": "5432"}
    assert spooldir.default_directory(postgres) != spooldir.default_directory({**postgres, "HOST": "db2"})
    assert spooldir.default_directory({**sqlite, "NAME": ":memory:"}) is None
    in_memory = "file:memorydb_default?mode=memory&cache=shared"  # Django's test database
    assert spooldir.default_directory({**sqlite, "NAME": in_memory}) is None

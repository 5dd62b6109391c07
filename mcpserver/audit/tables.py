"""The audit table's writes: a batch of records (``trail.record``'s entries) as rows of ``AuditRecord``,
in one transaction; and which records of a batch the table lacks.

Rows are written without the ORM's per-object work, which would compete with the worker's request
threads for the GIL: binary COPY on PostgreSQL, multi-row INSERTs elsewhere. The values stored are
still the ORM's own, byte for byte (the forms of timestamps and ids are worked out from the
connection's own adaptation). Rows are built before the transaction opens (no database lock held
meanwhile), in slices of ``ROWS_BETWEEN_YIELDS`` between which the other threads get the GIL.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction

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

# Building a row holds the GIL: a whole batch built at once would stall the worker's request threads
# for as long (straight into their latency), so rows are built this many at a time, the other threads
# offered the GIL between slices.
ROWS_BETWEEN_YIELDS = 50


def _timestamp_adapter(connection: Any, probe: float) -> Callable[[float], Any]:
    """How ``connection`` stores a timestamp in a DateTimeField column, worked out once per batch.

    Django's ``adapt_datetimefield_value`` gives an aware datetime made naive in the connection's time
    zone, as a string (SQLite, MySQL), or the aware datetime itself (PostgreSQL). When it agrees with
    one of those two forms on ``probe``, the rows get that form built directly, without its per-value
    work; otherwise every row goes through it.
    """
    adapt = connection.ops.adapt_datetimefield_value
    expected = adapt(datetime.fromtimestamp(probe, tz=UTC))
    if isinstance(expected, datetime) and expected.tzinfo is not None:
        if expected == datetime.fromtimestamp(probe, tz=UTC):
            return lambda created: datetime.fromtimestamp(created, tz=UTC)
    elif isinstance(expected, str) and settings.USE_TZ:
        zone = connection.timezone
        if expected == str(datetime.fromtimestamp(probe, tz=zone).replace(tzinfo=None)):
            return _local_text(zone)
    return lambda created: adapt(datetime.fromtimestamp(created, tz=UTC))


def _local_text(zone: Any) -> Callable[[float], str]:
    """``str(datetime.fromtimestamp(created, tz=zone).replace(tzinfo=None))``, the text of a second
    worked out once for the records of that second (a batch's records are in time order)."""
    last: list[Any] = [None, ""]  # a second, and its text

    def text(created: float) -> str:
        # Rounded to the microsecond as datetime.fromtimestamp rounds (half to even, carrying into the
        # second).
        fraction, second = math.modf(created)
        micro = round(fraction * 1e6)
        if micro >= 1_000_000:
            micro, second = micro - 1_000_000, second + 1
        if second != last[0]:
            last[:] = second, str(datetime.fromtimestamp(second, tz=zone).replace(tzinfo=None))
        return f"{last[1]}.{micro:06d}" if micro else last[1]

    return text


def _id_adapter(connection: Any) -> Callable[[str], Any]:
    """How ``connection`` stores a UUIDField's value (as the field's ``get_db_prep_value`` does) given
    as 32 lowercase hexadecimal digits (a record's id): as it is, or a ``UUID``."""
    if connection.features.has_native_uuid_field:
        return uuid.UUID
    return str


def _row(entry: tuple, timestamp: Callable[[float], Any], identifier: Callable[[str], Any]) -> tuple:
    ident, created, subject, username, client_id, kind, name, outcome, duration_ms, *rest = entry
    row = (timestamp(created), subject, username, client_id, kind, name, outcome, round(duration_ms, 3))
    return (*row, *rest, identifier(ident))


def insert(batch: list[tuple]) -> None:
    """Write ``batch`` in one transaction: a COPY on PostgreSQL, else a few multi-row INSERTs. Raises
    what the database raises (nothing is written then, or, when the connection was lost during the
    commit, maybe everything: see ``unwritten``)."""
    from ..models import AuditRecord

    connection = connections[router.db_for_write(AuditRecord)]
    meta, quote = AuditRecord._meta, connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in COLUMNS)
    rows, timestamp, identifier = [], _timestamp_adapter(connection, batch[0][1]), _id_adapter(connection)
    for start in range(0, len(batch), ROWS_BETWEEN_YIELDS):
        rows += [_row(entry, timestamp, identifier) for entry in batch[start : start + ROWS_BETWEEN_YIELDS]]
        time.sleep(0)  # let request threads have the GIL between slices (see ROWS_BETWEEN_YIELDS)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: psycopg's executemany adapts every parameter in Python and pipelines one
            # statement per row; COPY writes rows in C. In binary: in the text format psycopg would
            # format every timestamp and the server parse it back.
            sql = f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN (FORMAT BINARY)"
            with cursor.cursor.copy(sql) as copy:
                copy.set_types(list(COLUMN_TYPES.values()))
                for row in rows:
                    copy.write_row(row)
        else:
            # Multi-row INSERTs, as many rows each as the backend takes parameters: executemany steps
            # the statement once per row and gives up the GIL each time, and a request thread holds
            # it for up to the switch interval before the writer gets it back, so under load a batch
            # would wait that long once per row. On SQLite through the DB-API connection with its own
            # "?" placeholders: Django's cursor would first rewrite each of a statement's hundreds of
            # "%s" with a regular expression, a fifth of the statement's cost.
            per_statement = max(1, (connection.features.max_query_params or 10_000) // len(COLUMNS))
            table = quote(meta.db_table)
            sqlite = connection.vendor == "sqlite"
            execute = connection.connection.execute if sqlite else cursor.execute
            row_values = f"({', '.join(['?' if sqlite else '%s'] * len(COLUMNS))})"
            for start in range(0, len(rows), per_statement):
                chunk = rows[start : start + per_statement]
                values = ", ".join([row_values] * len(chunk))
                sql = f"INSERT INTO {table} ({columns}) VALUES {values}"  # noqa: S608  (identifiers from the model)
                execute(sql, [value for row in chunk for value in row])


def unwritten(entries: list[tuple]) -> list[tuple]:
    """The entries whose ids the table lacks, looked for among the rows of their time range (the index
    on ``created``; the ids have none)."""
    from ..models import AuditRecord

    records, found = AuditRecord.objects.using(router.db_for_write(AuditRecord)), set()
    for start in range(0, len(entries), 500):
        chunk = entries[start : start + 500]
        times = [entry[1] for entry in chunk]
        span = [datetime.fromtimestamp(t, tz=UTC) for t in (min(times) - 1, max(times) + 1)]
        ids = [uuid.UUID(entry[0]) for entry in chunk]
        rows = records.filter(created__range=span, uuid__in=ids).values_list("uuid", flat=True)
        found.update(value.hex for value in rows)
    return [entry for entry in entries if entry[0] not in found]

"""The audit trail: every accepted capability use leaves one record in the ``AuditRecord`` table,
written off the hot path, once, through a slow or unreachable database, a graceful shutdown or a
killed process; what is lost is never lost silently.

The API callers use:

- ``Trail``: times one capability use and records it once, whatever the outcome;
- ``record``: spool and buffer one record (never raises into the request that made it); ``digest``:
  what the trail keeps of a call's arguments;
- ``flush``: write what is buffered (the writer thread does, every ``AUDIT_FLUSH_SECONDS``);
  ``flush_at_exit``: the same at shutdown, waiting up to ``AUDIT_EXIT_WAIT_SECONDS`` for the database;
- ``replay``: write the records that processes which are gone left in the spool;
- ``pending``: how many records are not yet in the table; ``report_dropped``: say how many were lost.

Its modules, one job each: ``trail`` (a record's fields and id), ``buffer`` (the records not yet
written, back-pressure, drops), ``writer`` (the writer thread, flushes, replays), ``tables`` (the
table's writes), ``spool`` (this process's write-ahead files and their line format), ``spooldir``
(where the spool lives, whether it is usable) and ``leftovers`` (the files of dead processes).
"""

from .buffer import pending, report_dropped
from .trail import Trail, digest, record
from .writer import flush, flush_at_exit, replay

__all__ = ["Trail", "digest", "flush", "flush_at_exit", "pending", "record", "replay", "report_dropped"]

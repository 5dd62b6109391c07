"""What a capability use leaves in the audit trail: ``Trail`` times the use and records it once, whatever
the outcome; ``record`` builds the record and hands it to the buffer (``buffer``), starting the writer
thread (``writer``) when records are written in the background; ``digest`` is what the trail keeps of
the arguments.

A record (an "entry") is a tuple, in this order: its id (the table's ``uuid`` as a 128-bit integer),
created (a Unix time), subject, username, client_id, kind, name, outcome, duration_ms,
argument_bytes, argument_digest, protocol_version, detail. Never the arguments themselves, nor token
values. An id is unique across processes without a per-record random draw: a random half drawn per
process (again in a forked child), a counter the other.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from typing import Any

from .. import conf, signals
from . import buffer, writer

_id_base = int.from_bytes(os.urandom(8)) << 64
_id_count = itertools.count()


# One encoder for every digest: json.dumps with these options builds a new one per call.
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
    buffer.add(entry)
    if conf.get("AUDIT_BACKGROUND"):
        writer.ensure_started()
        if buffer.pending() >= conf.get("AUDIT_BATCH_SIZE"):
            writer.wake()


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


def _after_fork_in_child() -> None:
    # A forked child's ids must not repeat its parent's.
    global _id_base, _id_count
    _id_base, _id_count = int.from_bytes(os.urandom(8)) << 64, itertools.count()


os.register_at_fork(after_in_child=_after_fork_in_child)

"""What a capability use leaves in the audit trail: ``Trail`` times the use and records it once, whatever
the outcome; ``record`` builds the record and hands it to the buffer (``buffer``), starting the writer
thread (``writer``) when records are written in the background; ``digest`` is what the trail keeps of
the arguments.

A record (an "entry") is a tuple, in this order: its id (the table's ``uuid`` as 32 hexadecimal digits),
created (a Unix time), subject, username, client_id, kind, name, outcome, duration_ms (rounded to the
microsecond when written), argument_bytes, argument_digest, protocol_version, detail. Never the
arguments themselves, nor token values. An id is unique across processes without a per-record random
draw: a random half drawn per process (again in a forked child), a counter the other.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import time
from typing import Any

import orjson

from .. import conf, signals
from . import buffer, writer

_id_prefix = os.urandom(8).hex()
_id_count = itertools.count()


# The canonical form: compact JSON, keys sorted, everything beyond ASCII escaped (``json.dumps(arguments,
# sort_keys=True, separators=(",", ":"))``). The standard library's encoder writes it; orjson writes the
# same bytes, several times faster, for most arguments (see _fast_canonical).
_canonical_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode
# orjson hands these to a ``default`` (none: TypeError), where the standard library decides.
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
# Where orjson's bytes may differ from the standard library's, found after a structural character:
# a number with a fraction or an exponent (orjson writes 1e-05 as 0.00001 and 1e-07 as 1e-7), and
# null (orjson's for NaN and the infinities, which the standard library writes as NaN and Infinity).
# The same characters inside a string match too: the standard library then writes them, at its cost.
_MAY_DIFFER = re.compile(rb"[\[:,](?:-?[0-9]+[.eE]|null)")


def _fast_canonical(arguments: dict) -> bytes | None:
    """The canonical form of ``arguments`` by orjson, or None where its bytes could differ from the
    standard library's: anything beyond ASCII (orjson writes UTF-8, the canonical form escapes it),
    DEL (escaped by the standard library only), fractions, exponents and nulls (see _MAY_DIFFER), and
    what orjson refuses (integers beyond 64 bits, keys that are not strings, ...)."""
    try:
        encoded = orjson.dumps(arguments, option=_ORJSON_OPTIONS)
    except TypeError:
        return None
    if not encoded.isascii() or 0x7F in encoded or _MAY_DIFFER.search(encoded):  # 0x7F: DEL, a byte
        return None
    return encoded


def digest(arguments: Any) -> tuple[int, str]:
    """The size and SHA-256 of the canonical JSON of ``arguments`` (see _canonical_json): what the
    trail keeps of them. ``arguments`` are decoded JSON (a request's, a task's stored ones); what is not
    JSON (keys of mixed types, say) is digested as its ``repr`` (orjson would write a UUID or an Enum
    where the standard library refuses them: never in decoded JSON)."""
    if not arguments:
        return 0, ""
    canonical = _fast_canonical(arguments) if type(arguments) is dict else None
    if canonical is None:
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
        f"{_id_prefix}{next(_id_count):016x}", time.time(), token.subject[:255], (token.username or "")[:150],
        token.client_id[:255], kind, name[:500], outcome, duration_ms, size, checksum, version[:20],
        detail[:500],
    )  # fmt: skip
    pending = buffer.add(entry)
    if conf.get("AUDIT_BACKGROUND"):
        writer.ensure_started()
        if pending >= conf.get("AUDIT_BATCH_SIZE"):
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
    global _id_prefix, _id_count
    _id_prefix, _id_count = os.urandom(8).hex(), itertools.count()


os.register_at_fork(after_in_child=_after_fork_in_child)

"""The audit trail's write-ahead spool: a record reaches a file of its process before the call that made
it is answered, so the records of a process killed before it wrote its buffer (SIGKILL, out of memory)
are written by the next process (``leftovers``, ``writer.replay``).

A record is one line of JSON copied into a file that the process maps into its memory (``mmap``,
shared with the file): no system call per record, and once the copy is done the line is in the
kernel's page cache, which outlives the process. A file has room for ``CAPACITY`` bytes; the part not
written yet reads as zero bytes (``parse`` ignores them); a full file is followed by a new one. There
is no fsync: an operating-system crash or a power cut can lose the lines the kernel had not yet
written back (up to its writeback interval) and leave a last line cut or zeroed (``parse`` counts
those). A line holds what the table's row holds (who, what, outcome, the arguments' size and digest),
never arguments or token values.

A process holds an exclusive ``flock`` on each of its files for as long as it lives, taken before the
file has the name a replay looks for. Every record not yet in the table has its line in a file; a file
may also hold lines already written (a replay skips records the table has). A full file is deleted
once all its records are in the table, and the one being appended to is zeroed and reused whenever
none of its records waits, so a busy process keeps two files at most. When a file cannot be opened or
written, records are kept in memory only (said once) and a new file is tried ``RETRY_SECONDS`` later.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import mmap
import os
import re
import time
from collections.abc import Iterable

import orjson

from . import spooldir

logger = logging.getLogger(__name__)

SUFFIX = ".audit1.jsonl"  # the line format's version is part of the name
# The fields of a line (``trail.record``'s entries, in order) and the types a replayed one must have.
FIELD_TYPES: tuple[tuple[type, ...], ...] = (
    (str,),  # the record's id, the table's uuid as 32 hexadecimal digits
    (int, float),  # created, a Unix time
    (str,), (str,), (str,),  # subject, username, client_id
    (str,), (str,), (str,),  # kind, name, outcome
    (int, float),  # duration_ms
    (int,), (str,),  # argument_bytes, argument_digest
    (str,), (str,),  # protocol_version, detail
)  # fmt: skip
# Bytes a file holds, its space reserved when it is made: a full filesystem then fails the file's
# creation (records go to memory, said once) instead of killing the process with SIGBUS when a line
# is copied into a page the filesystem has no room for.
CAPACITY = 4 << 20
RETRY_SECONDS = 1.0  # after a file could not be opened or written, records go to memory only this long
_HEX_ID = re.compile(r"[0-9a-f]{32}")  # a record's id


def encode(fields: tuple) -> bytes:
    """One record's line."""
    return orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE)


def parse(data: bytes) -> tuple[list[tuple], int]:
    """The records of a file's lines, and how many lines are not one (cut or zeroed by a crash)."""
    entries, torn = [], 0
    for line in data.rstrip(b"\0").split(b"\n"):  # the zero bytes after the last line: room not used
        if not line:
            continue
        try:
            fields = orjson.loads(line)
        except orjson.JSONDecodeError:
            torn += 1
            continue
        if (
            isinstance(fields, list)
            and len(fields) == len(FIELD_TYPES)
            and all(isinstance(value, types) for value, types in zip(fields, FIELD_TYPES, strict=True))
            and _HEX_ID.fullmatch(fields[0])  # a UUID
            and 0 < fields[1] < 1e11  # a datetime
        ):
            entries.append(tuple(fields))
        else:
            torn += 1
    return entries, torn


class Segment:
    """One file of this process: its descriptor (which holds the lock), its mapping, where the next line
    goes, and how many records wait in it."""

    __slots__ = ("dirty", "fd", "memory", "path", "pending", "position")

    def __init__(self, path: str, fd: int, memory: mmap.mmap) -> None:
        self.path, self.fd, self.memory = path, fd, memory
        self.pending, self.position, self.dirty = 0, 0, False

    def room_for(self, size: int) -> bool:
        return self.position + size <= len(self.memory)

    def put(self, line: bytes) -> None:
        end = self.position + len(line)
        self.memory[self.position : end] = line
        self.position, self.dirty = end, True

    def empty(self) -> None:
        """Every record in it is in the table: zero what was written and start from its beginning (its
        pages stay mapped: no system call, no page to fault in again)."""
        self.memory[: self.position] = bytes(self.position)
        self.position, self.dirty = 0, False

    def close(self) -> None:
        with contextlib.suppress(Exception):  # BufferError cannot happen: no view of it is kept
            self.memory.close()
        os.close(self.fd)


class Spool:
    """This process's files in ``directory``. Not thread-safe: the buffer's lock guards it."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.name = f"audit-{os.getpid()}-{os.urandom(4).hex()}"
        self.number = 0
        self.segments: list[Segment] = []  # oldest first
        self.current: Segment | None = None  # the one appended to
        self.retry_at = 0.0
        self.failing = False  # a failure was logged, and no file has been opened since

    def append(self, line: bytes) -> Segment | None:
        """Append one record's line; return its file, or None when it could not be written (said once
        per failure: the record is then in memory only)."""
        segment = self.current
        if segment is None or not segment.room_for(len(line)):
            if time.monotonic() < self.retry_at or (segment := self._start()) is None:
                return None
            if not segment.room_for(len(line)):  # a line longer than a file: never, by construction
                self._failure(OSError(errno.EFBIG, "a record longer than a spool file"))
                return None
        segment.put(line)
        segment.pending += 1
        return segment

    def done(self, segments: Iterable[Segment | None]) -> None:
        """These records (a file per record; None for one not spooled) are in the table: delete the
        files in which none waits, and empty the one appended to when none waits in it."""
        for segment in segments:
            if segment is not None:
                segment.pending -= 1
        for segment in [segment for segment in self.segments if segment.pending <= 0]:
            if segment is not self.current:
                self._remove(segment)
            elif segment.dirty:
                # Its lines are in the table: were they left, a replay would find them there.
                with contextlib.suppress(OSError):
                    segment.empty()

    def close(self) -> None:
        """Close every file, deleting those in which no record waits; the others are left to the next
        process (their lock goes with the descriptor)."""
        for segment in list(self.segments):
            if segment.pending <= 0:
                self._remove(segment)
            else:
                segment.close()
        self.segments, self.current = [], None

    def abandon(self) -> None:
        """In a forked child: close the inherited descriptors of the parent's files, which stay the
        parent's (a flock is shared by the copies of a descriptor and held until the last one closes)."""
        for segment in self.segments:
            with contextlib.suppress(OSError):
                segment.close()  # this process's mapping and descriptor only
        self.segments, self.current = [], None

    def _start(self) -> Segment | None:
        self.number += 1
        path = os.path.join(self.directory, f"{self.name}-{self.number:06d}{SUFFIX}")
        partial = path + ".new"  # locked before it has a name a replay would look at
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW  # mmap needs read too
        try:
            spooldir.prepare(self.directory)
            fd = os.open(partial, flags, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.posix_fallocate(fd, 0, CAPACITY)
                memory = mmap.mmap(fd, CAPACITY)  # MAP_SHARED: the lines are the file's pages
                os.rename(partial, path)
            except BaseException:
                os.close(fd)
                unlink(partial)
                raise
        except (OSError, ValueError, spooldir.SpoolUnavailable) as exc:
            self._failure(exc)
            return None
        if self.failing:
            self.failing = False
            logger.warning("The audit spool in %s is written again", self.directory)
        segment = self.current = Segment(path, fd, memory)
        self.segments.append(segment)
        return segment

    def _failure(self, exc: Exception) -> None:
        self.retry_at = time.monotonic() + RETRY_SECONDS
        if not self.failing:
            self.failing = True
            logger.error(
                "Cannot write the audit spool in %s (%s): records are kept in memory only until it can be",
                self.directory, exc,
            )  # fmt: skip

    def _remove(self, segment: Segment) -> None:
        self.segments.remove(segment)
        unlink(segment.path)  # before its lock goes, so that no replay takes records that are written
        segment.close()


def unlink(path: str) -> None:
    """Delete ``path``, unless it cannot be."""
    with contextlib.suppress(OSError):  # gone already; or kept, and then replayed against the table's ids
        os.unlink(path)

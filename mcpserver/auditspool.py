"""The audit trail's write-ahead spool: a record reaches a file of its process before the call that made
it is answered, so the records of a process killed before it wrote its buffer (SIGKILL, out of memory)
are written by the next process.

A record is one line of JSON appended with a single write(2) to a file opened with O_APPEND. Once the
write returns, the line is in the kernel's page cache, which outlives the process. There is no fsync:
an operating-system crash or a power cut can lose the lines the kernel had not yet written back (up to
its writeback interval, some seconds) and leave a last line cut or zeroed. A line holds what the
table's row holds (who, what, outcome, the arguments' size and digest), never arguments or token values.

A process holds an exclusive ``flock`` on each of its files for as long as it lives (the kernel drops
it with the process, however it ends): a file whose lock another process can take was left by a dead
one, so a replay never takes a live process's file. A file is deleted once all its records are in the
table; the one being appended to is emptied whenever none of its records waits, and replaced at each
flush while some do, so a busy process keeps two files at most.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Iterable
from typing import Any

from django.core.signals import setting_changed

from . import conf

logger = logging.getLogger(__name__)

SUFFIX = ".audit1.jsonl"  # the line format's version is part of the name
# The fields of a line (``audit.record``'s entries, in order) and the types a replayed one must have.
FIELD_TYPES: tuple[tuple[type, ...], ...] = (
    (int,),  # the record's id, the table's uuid as a 128-bit integer
    (int, float),  # created, a Unix time
    (str,), (str,), (str,),  # subject, username, client_id
    (str,), (str,), (str,),  # kind, name, outcome
    (int, float),  # duration_ms
    (int,), (str,),  # argument_bytes, argument_digest
    (str,), (str,),  # protocol_version, detail
)  # fmt: skip
RETRY_SECONDS = 1.0  # after a file could not be opened or written, records go to memory only this long

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, check_circular=False).encode


def encode(fields: tuple) -> bytes:
    """One record's line."""
    return (_encode(fields) + "\n").encode()


def parse(data: bytes) -> tuple[list[tuple], int]:
    """The records of a file's lines, and how many lines are not one (cut or zeroed by a crash)."""
    entries, torn = [], 0
    for line in data.split(b"\n"):
        if not line:
            continue
        try:
            fields = json.loads(line)
        except ValueError:
            torn += 1
            continue
        if (
            isinstance(fields, list)
            and len(fields) == len(FIELD_TYPES)
            and all(isinstance(value, types) for value, types in zip(fields, FIELD_TYPES, strict=True))
            and 0 <= fields[0] < 1 << 128  # a UUID
            and 0 < fields[1] < 1e11  # a datetime
        ):
            entries.append(tuple(fields))
        else:
            torn += 1
    return entries, torn


# --- where ---

_directory: dict[str, str | None] = {}


def directory() -> str | None:
    """Where this process spools its records (``AUDIT_SPOOL_DIR``, else the database's default), or
    None when it does not."""
    try:
        return _directory["value"]
    except KeyError:
        pass
    if not conf.get("AUDIT_SPOOL"):
        value = None
    elif conf.get("AUDIT_SPOOL_DIR"):
        value = os.path.abspath(os.fspath(conf.get("AUDIT_SPOOL_DIR")))
    else:
        from django.db import connections, router

        from .models import AuditRecord

        value = default_directory(connections[router.db_for_write(AuditRecord)].settings_dict)
    _directory["value"] = value
    return value


def default_directory(database: dict[str, Any]) -> str | None:
    """A directory of this user's per database (two deployments on one machine must not write each
    other's records) under the system's temporary directory; None for an in-memory SQLite database,
    whose records die with the process anyway."""
    name = str(database.get("NAME") or "")
    if "sqlite" in database.get("ENGINE", "") and (name in {"", ":memory:"} or "mode=memory" in name):
        return None
    identity = "\n".join(str(database.get(key) or "") for key in ("ENGINE", "HOST", "PORT", "NAME"))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"mcp-audit-spool-{os.geteuid()}-{digest}")


def _forget(setting: str, **kwargs: Any) -> None:
    if setting in {"MCPSERVER", "DATABASES"}:
        _directory.clear()


setting_changed.connect(_forget, dispatch_uid="mcpserver-auditspool")


class SpoolUnavailable(Exception):
    """The spool directory cannot be used; the message says why."""


def prepare(path: str) -> None:
    """Make ``path`` (mode 0700) unless it exists; raise ``SpoolUnavailable`` unless it is a directory
    this user owns and may write and no other user may write (one could slip records into the trail)."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.stat(path)
    except OSError as exc:
        raise SpoolUnavailable(f"{path}: {exc.strerror or exc}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise SpoolUnavailable(f"{path} is not a directory")
    if info.st_uid != os.geteuid():
        raise SpoolUnavailable(f"{path} belongs to another user (uid {info.st_uid})")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise SpoolUnavailable(f"{path} is writable by other users")
    if not os.access(path, os.W_OK | os.X_OK):
        raise SpoolUnavailable(f"{path} is not writable")


def problem() -> str | None:
    """Why this process could not spool, or None (also when it does not spool)."""
    path = directory()
    if path is None:
        return None
    try:
        prepare(path)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except SpoolUnavailable as exc:
        return str(exc)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    return None


# --- this process's files ---


class Segment:
    """One file of this process: its descriptor (which holds the lock) and how many records wait in it."""

    __slots__ = ("dirty", "fd", "path", "pending")

    def __init__(self, path: str, fd: int) -> None:
        self.path, self.fd, self.pending, self.dirty = path, fd, 0, False


class Spool:
    """This process's files in ``directory``. Not thread-safe: the audit writer's lock guards it."""

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
        if segment is None and (time.monotonic() < self.retry_at or (segment := self._start()) is None):
            return None
        try:
            written = os.write(segment.fd, line)
        except OSError as exc:
            written, error = 0, exc
        else:
            error = None if written == len(line) else OSError(errno.ENOSPC, "short write")
        segment.dirty = segment.dirty or written > 0
        if error is not None:
            # What the file holds stays until written (a cut line only matters if the process dies,
            # and its record is lost then); later lines go to a new file.
            self.current = None
            self._failure(error)
            return None
        segment.pending += 1
        return segment

    def rotate(self) -> None:
        """At the start of a flush: when records wait in the file appended to and in no older one, new
        records go to a new file, which leaves the old one to be emptied by this flush."""
        if self.current is not None and self.current.pending and len(self.segments) == 1:
            self._start()

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
                try:
                    os.ftruncate(segment.fd, 0)
                    segment.dirty = False
                except OSError:  # its lines are in the table: a replay would find them there
                    pass

    def close(self) -> None:
        """Close every file, deleting those in which no record waits; the others are left to the next
        process (their lock goes with the descriptor)."""
        for segment in list(self.segments):
            if segment.pending <= 0:
                self._remove(segment)
            else:
                os.close(segment.fd)
        self.segments, self.current = [], None

    def abandon(self) -> None:
        """In a forked child: close the inherited descriptors of the parent's files, which stay the
        parent's (a flock is shared by the copies of a descriptor and held until the last one closes)."""
        for segment in self.segments:
            with contextlib.suppress(OSError):
                os.close(segment.fd)
        self.segments, self.current = [], None

    def _start(self) -> Segment | None:
        self.number += 1
        path = os.path.join(self.directory, f"{self.name}-{self.number:06d}{SUFFIX}")
        partial = path + ".new"  # locked before it has a name a replay would look at
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            prepare(self.directory)
            fd = os.open(partial, flags, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.rename(partial, path)
            except BaseException:
                os.close(fd)
                _unlink(partial)
                raise
        except (OSError, SpoolUnavailable) as exc:
            self._failure(exc)
            return None
        if self.failing:
            self.failing = False
            logger.warning("The audit spool in %s is written again", self.directory)
        segment = self.current = Segment(path, fd)
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
        _unlink(segment.path)  # before its lock goes, so that no replay takes records that are written
        os.close(segment.fd)


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):  # gone already; or kept, and then replayed against the table's ids
        os.unlink(path)


# --- files left by dead processes ---


class Claimed:
    """A dead process's file, locked by this one: its records, and how many lines were unreadable."""

    def __init__(self, path: str, fd: int, entries: list[tuple], torn: int) -> None:
        self.path, self.fd, self.entries, self.torn = path, fd, entries, torn

    def delete(self) -> None:
        """Its records are in the table: delete the file, then let the lock go."""
        _unlink(self.path)
        os.close(self.fd)

    def release(self) -> None:
        """Leave the file for a later replay."""
        os.close(self.fd)


def left_files(path: str) -> list[str]:
    """The spool files in ``path`` (whether their process lives is for ``claim`` to find out)."""
    try:
        names = os.listdir(path)
    except OSError:
        return []
    return [os.path.join(path, name) for name in sorted(names) if name.endswith((SUFFIX, SUFFIX + ".new"))]


def claim(path: str) -> Claimed | None:
    """Take a file whose process is gone; None when its owner lives (holds its lock) or it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: its owner lives
        opened, named = os.fstat(fd), os.stat(path, follow_symlinks=False)
        if (opened.st_dev, opened.st_ino) != (named.st_dev, named.st_ino):
            raise FileNotFoundError(path)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    except OSError:  # also FileNotFoundError: its owner wrote its records, deleted it and let it go
        os.close(fd)
        return None
    return Claimed(path, fd, *parse(b"".join(chunks)))

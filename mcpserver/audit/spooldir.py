"""Where the audit spool lives: ``AUDIT_SPOOL_DIR``, else a directory per database under ``/dev/shm``
when that is a memory filesystem of at least 1 GiB (no writeback to stall a request) or else under the
system's temporary directory, or nowhere (``AUDIT_SPOOL`` off, or an in-memory SQLite database); and
whether it is usable: a directory this user owns and may write, and no other user may write (one could slip
records into the trail). The answer is kept until the ``MCPSERVER`` or ``DATABASES`` setting changes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
from typing import Any

from django.core.signals import setting_changed

from .. import conf

logger = logging.getLogger(__name__)

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

        from ..models import AuditRecord

        value = default_directory(connections[router.db_for_write(AuditRecord)].settings_dict)
    _directory["value"] = value
    return value


def default_directory(database: dict[str, Any], parent: str | None = None) -> str | None:
    """A directory of this user's per database (two deployments on one machine must not write each
    other's records) under ``parent`` (by default ``parent_directory()``); None for an in-memory SQLite
    database, whose records die with the process anyway."""
    name = str(database.get("NAME") or "")
    if "sqlite" in database.get("ENGINE", "") and (name in {"", ":memory:"} or "mode=memory" in name):
        return None
    identity = "\n".join(str(database.get(key) or "") for key in ("ENGINE", "HOST", "PORT", "NAME"))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return os.path.join(parent or parent_directory(), f"mcp-audit-spool-{os.geteuid()}-{digest}")


MEMORY_DIRECTORY = "/dev/shm"  # noqa: S108 (a directory of our own in it, checked by prepare())
MEMORY_MINIMUM_BYTES = 1 << 30


def parent_directory(
    memory: str = MEMORY_DIRECTORY, minimum: int = MEMORY_MINIMUM_BYTES, mounts: str = "/proc/self/mounts"
) -> str:
    """``memory`` when it is the mount point of a tmpfs whose size is at least ``minimum`` bytes, else
    the system's temporary directory.

    A file there never waits for writeback, and outlives its process as the page cache does (it is
    lost on a reboot, as the page cache's unwritten lines are). The size, not the free space, decides,
    so that every worker and every restart choose alike; a container's 64 MB ``/dev/shm`` is passed
    over, since a full one would keep records in memory only."""
    try:
        with open(mounts, encoding="utf-8") as table:
            tmpfs = any(
                fields[1] == memory and fields[2] == "tmpfs"
                for fields in (line.split() for line in table)
                if len(fields) > 2
            )
        info = os.statvfs(memory)
    except OSError:
        return tempfile.gettempdir()
    if tmpfs and info.f_blocks * info.f_frsize >= minimum:
        return memory
    return tempfile.gettempdir()


def replay_directories() -> list[str]:
    """Where ``writer.replay`` looks for records left by processes that are gone: the spool directory,
    and, when that is the default one, the same directory under the system's temporary directory too
    (the default of earlier versions, and of a machine whose ``/dev/shm`` was remounted smaller)."""
    where = directory()
    if where is None:
        return []
    found = [where]
    if not conf.get("AUDIT_SPOOL_DIR"):
        earlier = os.path.join(tempfile.gettempdir(), os.path.basename(where))
        if earlier != where and os.path.lexists(earlier):
            try:
                check(earlier)  # another user's directory could hold forged records
            except SpoolUnavailable as exc:
                logger.error("Not replaying the audit spool files in %s: %s", earlier, exc)
            else:
                found.append(earlier)
    return found


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
    except OSError as exc:
        raise SpoolUnavailable(f"{path}: {exc.strerror or exc}") from exc
    check(path)


def check(path: str) -> None:
    """Raise ``SpoolUnavailable`` unless ``path`` is a directory this user owns and may write and no
    other user may write."""
    try:
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

"""Where the audit spool lives: ``AUDIT_SPOOL_DIR``, else a directory per database under the system's
temporary directory, or nowhere (``AUDIT_SPOOL`` off, or an in-memory SQLite database); and whether it
is usable: a directory this user owns and may write, and no other user may write (one could slip
records into the trail). The answer is kept until the ``MCPSERVER`` or ``DATABASES`` setting changes.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from typing import Any

from django.core.signals import setting_changed

from .. import conf

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

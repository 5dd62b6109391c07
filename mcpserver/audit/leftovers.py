"""The audit spool files left by processes that are gone (SIGKILL, out of memory), for ``writer.replay``
to write into the table.

A process holds an exclusive ``flock`` on each of its spool files for as long as it lives (the kernel
drops it with the process, however it ends): a file whose lock this process can take was left by a
dead one, so a replay never takes a live process's file. A claimed file stays locked by this process
until its records are written (then it is deleted) or left for a later replay.
"""

from __future__ import annotations

import fcntl
import os

from .spool import SUFFIX, parse, unlink


class Claimed:
    """A dead process's file, locked by this one: its records, and how many lines were unreadable."""

    def __init__(self, path: str, fd: int, entries: list[tuple], torn: int) -> None:
        self.path, self.fd, self.entries, self.torn = path, fd, entries, torn

    def delete(self) -> None:
        """Its records are in the table: delete the file, then let the lock go."""
        unlink(self.path)
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

"""Concurrent ``/mcp`` requests per caller in this process: one caller never takes every thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_in_flight: dict[str, int] = {}  # caller -> requests being answered; callers at zero are removed
_lock = threading.Lock()


def admit(caller: str, limit: int) -> Callable[[], None] | None:
    """Count one more request of ``caller`` and return its (idempotent) release, or None when the
    caller already has ``limit`` in flight. A limit of 0 or less admits everything."""
    with _lock:
        count = _in_flight.get(caller, 0)
        if 0 < limit <= count:
            return None
        _in_flight[caller] = count + 1
    released = False

    def release() -> None:
        nonlocal released
        with _lock:
            if released:
                return
            released = True
            left = _in_flight[caller] - 1
            if left:
                _in_flight[caller] = left
            else:
                del _in_flight[caller]

    return release


def in_flight() -> dict[str, int]:
    with _lock:
        return dict(_in_flight)


def reset() -> None:
    """Forget every count (tests: a response never closed would hold its slot)."""
    with _lock:
        _in_flight.clear()


class Releasing:
    """A streamed body that releases its caller's slot when the server closes it (the client left or
    the body was sent), after closing the body itself."""

    def __init__(self, body: Iterable[bytes], release: Callable[[], None]) -> None:
        self.body, self.release = body, release

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        close: Any = getattr(self.body, "close", None)
        try:
            if close is not None:
                close()
        finally:
            self.release()

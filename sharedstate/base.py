"""The interface every shared-state back end implements (``sharedstate`` documents the contract)."""

from __future__ import annotations

import abc
from collections.abc import Hashable
from typing import Any

MAX_MESSAGES = 8  # undelivered messages one channel keeps (later ones are dropped)
MAX_READ = 100  # events one ``read`` of a log returns at most


class Backend(abc.ABC):
    @abc.abstractmethod
    def get_many(self, keys: list[str]) -> dict[str, Any]: ...

    @abc.abstractmethod
    def set(self, key: str, value: Any, ttl: int | None) -> None: ...

    @abc.abstractmethod
    def add(self, key: str, value: Any, ttl: int | None) -> bool: ...

    @abc.abstractmethod
    def delete(self, key: str) -> None: ...

    @abc.abstractmethod
    def incr(self, key: str, amount: int, ttl: int) -> int: ...

    @abc.abstractmethod
    def version(self, topic: str) -> Hashable | None:
        """Changes whenever an ``announce(topic)`` may have happened since the last read; None: no feed."""

    @abc.abstractmethod
    def announce(self, topic: str) -> None:
        """Make every process's next ``version(topic)`` differ from what it read before."""

    @abc.abstractmethod
    def send(self, channel: str, payload: dict[str, Any], ttl: int) -> None:
        """Leave ``payload`` for the receiver of ``channel`` (kept ``ttl`` seconds until received)."""

    @abc.abstractmethod
    def receive(self, channel: str, timeout: float) -> dict[str, Any] | None:
        """The oldest message left on ``channel``, taken off it; None after ``timeout`` seconds of none."""

    @abc.abstractmethod
    def append(self, log: str, event: dict[str, Any], keep: int, ttl: int) -> str:
        """Add ``event`` at the end of ``log`` (which keeps its last ``keep`` events, the whole log
        ``ttl`` seconds after the last append); the event's id."""

    @abc.abstractmethod
    def end(self, log: str) -> str:
        """The id after which the next appended event comes (of the last event, or a start value)."""

    @abc.abstractmethod
    def read(self, log: str, after: str, timeout: float) -> list[tuple[str, dict[str, Any]]]:
        """The events after the one with id ``after`` still kept, oldest first (at most ``MAX_READ``),
        waiting up to ``timeout`` seconds for one; ``ValueError`` for an id this back end never makes."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Delete every key this back end holds (tests, a reset drill); change feeds are not touched."""

    def ping(self) -> None:
        import secrets

        value = secrets.token_hex(8)
        self.set("sharedstate:ping", value, 10)
        if self.get_many(["sharedstate:ping"]).get("sharedstate:ping") != value:
            raise RuntimeError("the shared state did not return the value just written")

    def close(self) -> None:
        """Release connections and threads (the back end is not used again)."""

"""Receivers waiting in this process, by channel: the embedded back end hands a message sent in the
receiver's own process straight to it, without the database.

A receiver ``enter``s its channel before it looks for stored messages and ``leave``s it when done;
``offer`` gives a message to the receiver of the channel if one is in, and says whether it did. What
was offered after the receiver stopped waiting comes back from ``leave``, so nothing is lost.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class Mailbox:
    """Where one waiting receiver finds what was offered to it."""

    def __init__(self) -> None:
        self.messages: deque[dict[str, Any]] = deque()
        self.arrived = threading.Event()

    def take(self) -> dict[str, Any] | None:
        self.arrived.clear()  # first: a message offered from here on sets it again
        try:
            return self.messages.popleft()
        except IndexError:
            return None


class Mailboxes:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, Mailbox] = {}

    def enter(self, channel: str) -> Mailbox:
        mailbox = Mailbox()
        with self._lock:
            self._open[channel] = mailbox  # one receiver per channel: the latest one
        return mailbox

    def leave(self, channel: str, mailbox: Mailbox) -> list[dict[str, Any]]:
        """Close ``mailbox``; what was offered to it and not taken."""
        with self._lock:
            if self._open.get(channel) is mailbox:
                del self._open[channel]
            left = list(mailbox.messages)
            mailbox.messages.clear()
        return left

    def offer(self, channel: str, payload: dict[str, Any]) -> bool:
        with self._lock:
            mailbox = self._open.get(channel)
            if mailbox is None:
                return False
            mailbox.messages.append(payload)
            mailbox.arrived.set()
        return True

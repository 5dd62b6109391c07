"""The reader's side of a change feed: whether something loaded from the database may still be used.

A reader takes a ``Stamp`` of the topic *before* loading what the topic covers, and keeps it with what
it loaded. Before using that again it takes a new stamp and asks ``kept.valid(now, ...)``:

- with a feed, what was loaded stays valid while the topic's version reads the same: no polling;
- without a feed now, for ``without_feed`` seconds from the load at most (0: never kept): the
  bounded recheck; what was loaded without a feed is not kept once a feed is back;
- with ``at_most``, for no longer than that many seconds from the load, feed or not (for changes
  that bypass the announcements);
- never across ``sharedstate.reset()`` (tests, a changed setting), with a feed or without.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass

import sharedstate


@dataclass(frozen=True, slots=True)
class Stamp:
    version: Hashable | None  # sharedstate.version(topic): None when there was no feed
    era: int  # moved on by sharedstate.reset()
    taken: float  # time.monotonic()

    @classmethod
    def take(cls, topic: str) -> Stamp:
        era = sharedstate.era()  # read before the version: a reset in between makes them disagree
        return cls(sharedstate.version(topic), era, time.monotonic())

    @property
    def has_feed(self) -> bool:
        return self.version is not None

    def valid(self, now: Stamp, *, without_feed: float, at_most: float | None = None) -> bool:
        """Whether what was loaded after this stamp was taken may still be used at ``now`` (a later
        stamp of the same topic)."""
        return self._valid_at(now.version, now.era, now.taken, without_feed, at_most)

    def holds(self, topic: str, *, without_feed: float, at_most: float | None = None) -> bool:
        """``self.valid(Stamp.take(topic), ...)``, without making the new stamp: the check of a hot path
        that reloads (under a stamp of its own) only when this answers False."""
        era = sharedstate.era()  # read before the version, as take() does
        return self._valid_at(sharedstate.version(topic), era, time.monotonic(), without_feed, at_most)

    def _valid_at(
        self, version: Hashable | None, era: int, taken: float, without_feed: float, at_most: float | None
    ) -> bool:
        if era != self.era:
            return False
        age = taken - self.taken
        if at_most is not None and age >= at_most:
            return False
        if version is not None:
            return version == self.version
        return age < without_feed

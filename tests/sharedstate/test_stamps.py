"""``Stamp.holds`` answers as ``Stamp.valid`` against a stamp taken now, in every case."""

from __future__ import annotations

import itertools
import types

import pytest

import sharedstate
from sharedstate import stamps
from sharedstate.stamps import Stamp

VERSIONS = (None, ("e", 1), ("e", 2))


@pytest.mark.parametrize("kept_version", VERSIONS)
def test_holds_is_valid_against_a_stamp_taken_now(monkeypatch, kept_version):
    clock, current = [0.0], {"era": 0, "version": None}
    monkeypatch.setattr(stamps, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    monkeypatch.setattr(sharedstate, "era", lambda: current["era"])
    monkeypatch.setattr(sharedstate, "version", lambda topic: current["version"])
    kept = Stamp(kept_version, 0, 100.0)
    cases = itertools.product((0, 1), VERSIONS, (100.0, 104.9, 105.0, 130.0), (0, 5), (None, 5, 30))
    answers = set()
    for era, version, at, without_feed, at_most in cases:
        clock[0], current["era"], current["version"] = at, era, version
        expected = kept.valid(Stamp.take("topic"), without_feed=without_feed, at_most=at_most)
        assert kept.holds("topic", without_feed=without_feed, at_most=at_most) is expected, (
            era, version, at, without_feed, at_most,
        )  # fmt: skip
        answers.add(expected)
    assert answers == {True, False}

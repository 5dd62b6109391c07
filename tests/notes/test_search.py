"""Searching notes: one query language on every database; full text (stems, ranks) on PostgreSQL.

The tests without a marker hold on both back ends; CI runs this module on SQLite and on PostgreSQL
(``DATABASE_URL``), where the PostgreSQL-only tests run instead of the SQLite-only ones.
"""

from __future__ import annotations

import pytest
from django.db import connection

from notes.models import Note

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's full-text search")
on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="the fallback is SQLite's")


@pytest.fixture
def notes(people, make_note):
    alice = people["alice"]
    return {
        "groceries": make_note(alice, "Grocery list", "Oat milk, coffee beans, two lemons and bread."),
        "coffee": make_note(alice, "Coffee brewing", "Pour-over; Ethiopian beans taste of lemon."),
        "bike": make_note(alice, "Bike maintenance", "Chain oiled; the rear brake pads are worn."),
        "bobs": make_note(people["bob"], "Coffee for the office", "Order beans on Monday."),
    }


def found(text: str, user) -> list[str]:
    return [note.title for note in Note.objects.visible_to(user).search(text)]


def test_every_word_must_match_in_the_title_or_the_body(notes, people):
    alice = people["alice"]
    assert set(found("coffee lemon", alice)) == {"Grocery list", "Coffee brewing"}
    assert found("brake pads", alice) == ["Bike maintenance"]
    assert found("coffee brake", alice) == []


def test_case_does_not_matter(notes, people):
    assert set(found("COFFEE Beans", people["alice"])) == {"Grocery list", "Coffee brewing"}


def test_search_stays_within_what_the_user_may_see(notes, people):
    assert set(found("coffee", people["alice"])) == {"Grocery list", "Coffee brewing"}
    assert found("coffee", people["bob"]) == ["Coffee for the office"]
    assert len(found("coffee", people["root"])) == 3


def test_a_quoted_phrase_matches_as_a_phrase(notes, people):
    assert found('"oat milk"', people["alice"]) == ["Grocery list"]
    assert found('"milk oat"', people["alice"]) == []


def test_a_minus_excludes(notes, people):
    assert found("beans -lemon", people["root"]) == ["Coffee for the office"]
    assert found('coffee -"two lemons"', people["alice"]) == ["Coffee brewing"]


def test_blank_text_lists_every_visible_note_newest_first(notes, people):
    expected = ["Bike maintenance", "Coffee brewing", "Grocery list"]
    assert found("", people["alice"]) == expected
    assert found("   \t", people["alice"]) == expected


@pytest.mark.parametrize(
    "text",
    ['"', '"unclosed phrase', "-", "--", "%", "_", "\\", "'", "a & b | !c", "(lemon", "lemon:*", "x" * 2000],
)
def test_any_text_is_a_query_not_an_error(notes, people, text):
    """Search syntax characters of either back end (LIKE's wildcards, tsquery's operators) are text."""
    results = found(text, people["alice"])
    assert isinstance(results, list)
    if text in {"%", "_", "\\"}:
        assert results == []  # LIKE's wildcards and escape match only themselves


@on_sqlite
def test_the_fallback_matches_parts_of_words(notes, people):
    assert found("maint", people["alice"]) == ["Bike maintenance"]


@on_sqlite
def test_the_fallback_lists_newest_first(notes, people):
    notes["groceries"].save()
    assert found("lemon", people["alice"]) == ["Grocery list", "Coffee brewing"]


@on_postgresql
def test_full_text_search_matches_other_forms_of_a_word(notes, people):
    assert found("brewed", people["alice"]) == ["Coffee brewing"]
    assert found("lemon", people["alice"]) == found("lemons", people["alice"])


@on_postgresql
def test_full_text_search_ranks_title_matches_first(notes, people):
    """``Coffee brewing`` has the word in its title, ``Grocery list`` only in its body, and is older."""
    notes["groceries"].save()
    assert found("coffee", people["alice"]) == ["Coffee brewing", "Grocery list"]


@on_postgresql
def test_full_text_search_reads_or(notes, people):
    assert set(found("brake or oat", people["alice"])) == {"Bike maintenance", "Grocery list"}

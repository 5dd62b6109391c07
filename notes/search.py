"""Searching notes: PostgreSQL full-text search, and word containment on other databases.

One query language on both: every word must match, ``"a quoted phrase"`` matches as written,
``-word`` (or ``-"a phrase"``) excludes. On PostgreSQL the text goes to ``websearch_to_tsquery`` (which
also reads ``or``) against the title (ranked above the body) and the body, stemmed with the
``english`` configuration, best match first. Elsewhere (SQLite, the embedded default) each word or
phrase must occur in the title or the body, case-insensitively for ASCII letters (SQLite's ``LIKE``),
newest first: SQLite's FTS5 would need a shadow table kept in step by triggers and a migration only
SQLite runs, which an example app should not carry. Neither path needs ``django.contrib.postgres`` in
``INSTALLED_APPS``. Callers bound the text's length (a tool's input schema, a form field).
"""

from __future__ import annotations

import re

from django.db import connections, models

CONFIG = "english"
_TERM = re.compile(r'(-?)(?:"([^"]*)"?|(\S+))')  # -? then a "phrase" (closing quote optional) or a word


def matching(notes: models.QuerySet, text: str) -> models.QuerySet:
    """The notes of ``notes`` that match ``text``; ``notes`` unchanged (newest first) for blank text.

    On PostgreSQL each note carries its ``rank`` (higher is better).
    """
    if not text or not text.strip():
        return notes.order_by("-updated", "-id")
    if connections[notes.db].vendor == "postgresql":
        return _full_text(notes, text)
    return _containing(notes, text)


def _full_text(notes: models.QuerySet, text: str) -> models.QuerySet:
    from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

    title = SearchVector("title", weight="A", config=CONFIG)
    vector = title + SearchVector("body", weight="B", config=CONFIG)
    query = SearchQuery(text, search_type="websearch", config=CONFIG)
    return (
        notes.alias(search_document=vector)
        .filter(search_document=query)
        .annotate(rank=SearchRank(vector, query))
        .order_by("-rank", "-updated", "-id")
    )


def _containing(notes: models.QuerySet, text: str) -> models.QuerySet:
    for excluded, phrase, word in _TERM.findall(text):
        term = (phrase or word).strip()
        if not term:
            continue
        found = models.Q(title__icontains=term) | models.Q(body__icontains=term)
        notes = notes.exclude(found) if excluded else notes.filter(found)
    return notes.order_by("-updated", "-id")

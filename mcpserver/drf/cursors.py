"""A ViewSet's pagination as MCP cursors: the ``next`` link of a page, made opaque.

Whatever the paginator (page numbers, limit and offset, DRF's own cursors), its ``next`` link holds the
query that fetches the next page. The MCP cursor is that query (only the parameters the tool knows: its
filters and the paginator's own), URL-safe base64 encoded; a call with the cursor sends it again.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..schemas import SchemaError

INVALID = "arguments.cursor: Invalid cursor."


def encode(next_link: str | None, known: Collection[str]) -> str | None:
    """The cursor for a page's ``next`` link (None when there is no next page)."""
    if not next_link:
        return None
    pairs = [(name, value) for name, value in parse_qsl(urlsplit(next_link).query) if name in known]
    if not pairs:
        return None
    return base64.urlsafe_b64encode(urlencode(pairs).encode()).decode().rstrip("=")


def decode(cursor: object, known: Collection[str]) -> list[tuple[str, str]]:
    """The query a cursor stands for; ``SchemaError`` for anything this server did not make."""
    if not isinstance(cursor, str) or len(cursor) > 2000:
        raise SchemaError(INVALID)
    try:
        query = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        pairs = parse_qsl(query, strict_parsing=True)
    except (binascii.Error, UnicodeError, ValueError):
        raise SchemaError(INVALID) from None
    if not pairs or any(name not in known for name, _ in pairs):
        raise SchemaError(INVALID)
    return pairs

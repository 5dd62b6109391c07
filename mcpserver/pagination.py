"""Opaque, deterministic cursors over sorted lists: a cursor names the last key of the page before."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

from . import conf
from .exceptions import InvalidParams


def _cursor(key: str) -> str:
    return base64.urlsafe_b64encode(f"after:{key}".encode()).decode()


def _after(cursor: Any) -> str | None:
    if cursor is None:
        return None
    try:
        decoded = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
    except (AttributeError, UnicodeError, ValueError, binascii.Error):
        raise InvalidParams("Invalid cursor") from None
    if not decoded.startswith("after:"):
        raise InvalidParams("Invalid cursor")
    return decoded[len("after:") :]


def paginate(
    params: dict[str, Any], items: Iterable[Any] | Callable[[str | None], Iterable[Any]], field_name: str
) -> dict[str, Any]:
    """One page of a sorted list; the opaque cursor names the last key returned.

    ``items`` is the sorted list, or a function of the cursor's key returning the items after it
    (lazily): then a page costs a page, however long the list.
    """
    after = _after(params.get("cursor"))
    if callable(items):
        items = items(after)
    elif after is not None:
        items = (item for item in items if item.key > after)
    size = conf.get("PAGE_SIZE")
    window = list(islice(items, size + 1))
    page: dict[str, Any] = {field_name: [item.describe() for item in window[:size]]}
    if len(window) > size:
        page["nextCursor"] = _cursor(window[size - 1].key)
    return page

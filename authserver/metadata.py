"""Limits on client metadata (RFC 7591 §2), whether registered (DCR) or fetched (CIMD): size, nesting,
redirect-URI count."""

from __future__ import annotations

import json
from typing import Any

from . import conf

# Client metadata is a flat object with a few arrays; nothing legitimate nests anywhere near this.
MAX_DEPTH = 16


def nests_deeper(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects in a decoded JSON value nest deeper than ``limit`` (no recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def body_problem(body: bytes) -> tuple[int, str] | None:
    """(HTTP status, description) for a registration body too large or nested too deep; else None.

    Invalid JSON is left to DOT's own ``invalid_client_metadata`` answer. The standard library's
    decoder gives up on deep nesting with a ``RecursionError``: that is the answer "too deep" too.
    """
    limit = conf.get("DCR_MAX_METADATA_BYTES")
    if len(body) > limit:
        return 413, f"Client metadata is limited to {limit} bytes."
    too_deep = (400, f"Client metadata may not nest deeper than {MAX_DEPTH} levels.")
    try:
        data = json.loads(body)
    except RecursionError:
        return too_deep
    except ValueError:  # UnicodeDecodeError included
        return None
    return too_deep if isinstance(data, dict | list) and nests_deeper(data) else None


def problem(data: dict[str, Any]) -> tuple[str, str] | None:
    """The RFC 7591 §3.2.2 error (code, description) for decoded metadata past the limits, or None."""
    if nests_deeper(data):
        return "invalid_client_metadata", f"Client metadata may not nest deeper than {MAX_DEPTH} levels."
    uris = data.get("redirect_uris")
    limit = conf.get("DCR_MAX_REDIRECT_URIS")
    if isinstance(uris, list) and len(uris) > limit:
        description = f"A client may have at most {limit} redirect URIs; this one has {len(uris)}."
        return "invalid_redirect_uri", description
    return None

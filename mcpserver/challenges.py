"""``WWW-Authenticate`` challenges of the MCP resource server and the REST APIs behind its tokens (RFC 6750
§3, RFC 9728 §5.1, RFC 9449 §7.1): the one place they are written."""

from __future__ import annotations

import re
from collections.abc import Iterable

from . import conf
from .exceptions import HttpError, InsufficientScope

_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def quote(value: str) -> str:
    """An RFC 9110 §5.6.4 quoted-string holding only the characters RFC 6750 §3 allows."""
    return '"' + _UNSAFE.sub("", value) + '"'


def challenge(exc: HttpError, scope: Iterable[str] | None = None, metadata: bool = True) -> str:
    """The ``WWW-Authenticate`` value for a 401 or 403 (RFC 6750 §3, RFC 9728 §5.1).

    ``scope``: what a 401 names (None: ``SCOPES_SUPPORTED``; empty: no ``scope`` parameter); a 403
    names the scopes its ``InsufficientScope`` requires. ``metadata``: point at the protected
    resource metadata of ``RESOURCE_URL`` (only right where the token's audience is that resource).
    """
    params: list[tuple[str, str]] = []
    if isinstance(exc, InsufficientScope):
        params += [
            ("error", exc.error),
            ("error_description", exc.description),
            ("scope", " ".join(exc.required)),
        ]
    else:
        if getattr(exc, "token_sent", False):
            params += [("error", exc.error), ("error_description", exc.description)]
        names = " ".join(conf.get("SCOPES_SUPPORTED") if scope is None else scope)
        if names:
            params.append(("scope", names))
    if metadata:
        params.append(("resource_metadata", conf.metadata_url()))
    scheme = getattr(exc, "scheme", "Bearer")
    if scheme == "DPoP":  # RFC 9449 §7.1: the algorithms a proof may use
        params.append(("algs", " ".join(conf.get("DPOP_ALGORITHMS"))))
    return " ".join([scheme, ", ".join(f"{name}={quote(value)}" for name, value in params)]).rstrip()

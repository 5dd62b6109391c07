"""Refresh-token rotations just made, for the grace window: a rotated refresh token presented again
soon after, by its own client with the same request, gets the pair its first use got.

Concurrent clients (an MCP host refreshing from two tabs or processes at once) present one refresh
token several times within moments. The first use rotates it, under the row lock
(``validators.OAuth2Validator._save_bearer_token``); the pair it issued is kept in the shared state
under the old token's SHA-256 checksum, for the client's window only (``window``), and every later
use inside the window is answered from it. Anything else (after the window, another client,
another scope or resource) is reuse and revokes the token family.

The pair is sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the old refresh token,
whose value is stored nowhere: only whoever presents that token can open the entry. The client,
scope and resources of the request are the cipher's associated data, so another request finds
nothing it can open. (DOT's own grace path answers with the stored token columns, which hashed
storage leaves empty; it is never reached.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from datetime import timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings

import sharedstate

from . import outages, resource_indicators
from .models import ClientPolicy

KEY_PREFIX = "authserver:rotated:"
PAIR = ("access_token", "refresh_token", "scope")
NONCE_BYTES = 12


class Replayed(Exception):
    """A rotated refresh token used again where the grace window gives no answer: its family is revoked."""

    def __init__(self, family) -> None:
        super().__init__("refresh token reused")
        self.family = family


def window(client) -> int:
    """A client's grace window in seconds: the server's (``OAUTH_REFRESH_GRACE_SECONDS``, DOT's
    ``REFRESH_TOKEN_GRACE_PERIOD_SECONDS``), or the client's own when shorter; 0: none."""
    server = int(oauth2_settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS)
    own = (
        ClientPolicy.objects.filter(application=client)
        .values_list("refresh_grace_seconds", flat=True)
        .first()
    )
    return max(0, server if own is None else min(own, server))


def within_window(refresh_token, client) -> bool:
    """Whether a rotated (revoked) refresh token was rotated less than the client's window ago."""
    seconds = window(client)
    return seconds > 0 and refresh_token.revoked > timezone.now() - timedelta(seconds=seconds)


def remember(request, token: dict[str, Any]) -> None:
    """Keep the pair just issued for ``request.refresh_token``, sealed, for the client's window.

    Called inside the rotation's transaction, so that a use waiting on the row lock finds it. Without
    the shared state the rotation still succeeds, with no grace window.
    """
    seconds = window(request.client)
    if seconds <= 0:
        return
    pair = {name: token[name] for name in PAIR if name in token}
    pair["expires_at"] = time.time() + int(token.get("expires_in") or 0)
    try:
        sharedstate.set(_key(request.refresh_token), _seal(request, pair), seconds)
    except outages.OUTAGES:
        outages.warn("The shared state is unreachable: refresh tokens rotated now have no grace window")


def recall(request) -> dict[str, Any] | None:
    """The pair the first use of ``request.refresh_token`` got, if this request is the same one
    (client, scope, resources) and the window is still open; else None."""
    sealed = sharedstate.get(_key(request.refresh_token))
    pair = _open(request, sealed) if isinstance(sealed, str) else None
    if pair is None:
        return None
    pair["expires_in"] = max(0, int(pair.pop("expires_at") - time.time()))
    return pair


def _key(raw: str) -> str:
    return KEY_PREFIX + hashlib.sha256(raw.encode()).hexdigest()


def _cipher(raw: str) -> AESGCM:
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"authserver refresh grace")
    return AESGCM(kdf.derive(raw.encode()))


def _request_bound(request) -> bytes:
    """What a repeated request must repeat: the client, the scope asked for and the resources."""
    scope = sorted(set((request.scope or "").split()))
    resources = sorted(set(resource_indicators.requested(request)))
    return json.dumps([request.client.client_id, scope, resources]).encode()


def _seal(request, pair: dict[str, Any]) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(request.refresh_token).encrypt(nonce, json.dumps(pair).encode(), _request_bound(request))
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def _open(request, value: str) -> dict[str, Any] | None:
    try:
        data = base64.urlsafe_b64decode(value)
        plain = _cipher(request.refresh_token).decrypt(
            data[:NONCE_BYTES], data[NONCE_BYTES:], _request_bound(request)
        )
    except (InvalidTag, ValueError):
        return None
    return json.loads(plain)

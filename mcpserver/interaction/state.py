"""Sealed ``requestState``: what a 2026-07-28 input-required round hands the client, and takes back.

The client must echo the state unchanged, and the specification tells a server to treat it as
attacker-controlled. A state here is authenticated encryption (AES-256-GCM): nobody can read it (it
holds earlier answers and what the tool keeps in ``ctx.state``) or change it undetected, so no server
memory is needed between rounds and any instance can continue any request. It is bound to the caller
(token subject and client), the method, the target (tool or prompt name, resource URI) and a digest of
the original arguments, and it expires ``INPUT_STATE_SECONDS`` after it was sealed.

Keys come from ``SECRET_KEY`` (HKDF-SHA256), the secret every Django instance of a deployment
shares, and rotate with it as Django's own signing does: a state is sealed with the current key and
opened with the key its id names among ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``. (The token signing
keys are not used: they are asymmetric, and a resource server trusting an external issuer has none.)
Every state is encrypted with a key of its own (an HMAC of the master key and a random 128-bit salt),
so that no key ever meets GCM's limit on random nonces.

Format: ``"1." + base64url(key id (4 bytes) | salt (16) | nonce (12) | ciphertext and tag)``, the
plaintext being the JSON ``{"b": binding, "exp": unix time, "c": content}``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from .. import conf

VERSION = "1."
_INFO = b"mcpserver requestState"
_KID, _SALT, _NONCE = 4, 16, 12


class StateRefused(ValueError):
    """A state that does not open, or not for this request: ``reason`` is for the audit trail
    (``tampered``, ``expired``, ``another caller``, ``another request``), the message for the client."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Binding:
    """What a state belongs to: the caller, the method, its target, and the arguments' SHA-256."""

    subject: str
    client_id: str
    method: str
    target: str
    arguments: str

    def caller(self) -> list[str]:
        return [self.subject, self.client_id]

    def request(self) -> list[str]:
        return [self.method, self.target, self.arguments]


@functools.lru_cache(maxsize=16)
def _master(secret: str) -> tuple[bytes, bytes]:
    """The key id and the master key derived from one secret."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return hashlib.sha256(_INFO + key).digest()[:_KID], key


def _masters() -> list[tuple[bytes, bytes]]:
    return [_master(str(secret)) for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]]


def _cipher(master: bytes, salt: bytes) -> AESGCM:
    return AESGCM(hmac.new(master, salt, hashlib.sha256).digest())


def seal(binding: Binding, content: dict[str, Any], now: float | None = None) -> str:
    """``content`` (JSON values) sealed for ``binding`` until ``INPUT_STATE_SECONDS`` from now."""
    expires = int(time.time() if now is None else now) + conf.get("INPUT_STATE_SECONDS")
    plain = json.dumps(
        {"b": [*binding.caller(), *binding.request()], "exp": expires, "c": content},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    kid, master = _masters()[0]
    salt, nonce = os.urandom(_SALT), os.urandom(_NONCE)
    sealed = _cipher(master, salt).encrypt(nonce, plain, kid)
    return VERSION + base64.urlsafe_b64encode(kid + salt + nonce + sealed).rstrip(b"=").decode()


_TAMPERED = "The requestState does not verify; call again without it to start over"


def _plain(sealed: Any) -> dict[str, Any]:
    if not isinstance(sealed, str) or not sealed.startswith(VERSION):
        raise StateRefused("tampered", _TAMPERED)
    encoded = sealed[len(VERSION) :]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise StateRefused("tampered", _TAMPERED) from None
    kid, salt, nonce, body = raw[:_KID], raw[_KID : _KID + _SALT], raw[_KID + _SALT : 32], raw[32:]
    master = next((key for key_id, key in _masters() if hmac.compare_digest(key_id, kid)), None)
    if master is None or len(nonce) != _NONCE:
        raise StateRefused("tampered", _TAMPERED)  # or sealed with a key no longer kept
    try:
        return json.loads(_cipher(master, salt).decrypt(nonce, body, kid))
    except (InvalidTag, ValueError):
        raise StateRefused("tampered", _TAMPERED) from None


def unseal(sealed: Any, binding: Binding, now: float | None = None) -> dict[str, Any]:
    """The content of a state sealed for ``binding`` that has not expired; else ``StateRefused``."""
    plain = _plain(sealed)
    if plain["exp"] < (time.time() if now is None else now):
        raise StateRefused("expired", "The requestState has expired; call again without it to start over")
    if plain["b"][:2] != binding.caller():
        raise StateRefused("another caller", _TAMPERED)
    if plain["b"][2:] != binding.request():
        raise StateRefused("another request", "The requestState belongs to another request")
    return plain["c"]

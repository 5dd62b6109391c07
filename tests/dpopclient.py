"""A DPoP client written from RFC 9449 §4.2 alone (no server code): keys made here, proofs signed here."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class DpopKey:
    """A client's proof-of-possession key pair: ES256 (P-256) or RS256 (2048-bit RSA)."""

    def __init__(self, alg: str = "ES256"):
        self.alg = alg
        if alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        algorithm = jwt.get_algorithm_by_name(alg)
        self.jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))

    @property
    def thumbprint(self) -> str:
        """RFC 7638 §3.2: the required members in lexicographic order, no whitespace, SHA-256."""
        required = ("e", "kty", "n") if self.jwk["kty"] == "RSA" else ("crv", "kty", "x", "y")
        canonical = json.dumps({k: self.jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
        return b64url(hashlib.sha256(canonical.encode()).digest())

    def proof(
        self,
        method: str,
        url: str,
        token: str | None = None,
        nonce: str | None = None,
        iat: Any = None,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A DPoP proof JWT for one request; ``token`` adds ``ath`` (RFC 9449 §4.2)."""
        body: dict[str, Any] = {
            "jti": uuid.uuid4().hex,
            "htm": method,
            "htu": url,
            "iat": int(time.time()) if iat is None else iat,
        }
        if token is not None:
            body["ath"] = b64url(hashlib.sha256(token.encode()).digest())
        if nonce is not None:
            body["nonce"] = nonce
        body.update(claims)
        headers = {"typ": "dpop+jwt", "jwk": self.jwk, **(header or {})}
        return jwt.encode(body, self.private, algorithm=self.alg, headers=headers)

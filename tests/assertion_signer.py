"""A client's key pair for signed client assertions (private_key_jwt) in tests: its public JWK Set and
assertions signed with its private key, generated per test."""

from __future__ import annotations

import json
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PRIVATE_KEYS = {
    "RS256": lambda: rsa.generate_private_key(65537, 2048),
    "PS256": lambda: rsa.generate_private_key(65537, 2048),
    "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "EdDSA": ed25519.Ed25519PrivateKey.generate,
}


class Signer:
    def __init__(self, algorithm: str = "ES256", kid: str | None = None, audience: str | None = None):
        self.algorithm, self.kid, self.audience = algorithm, kid or uuid.uuid4().hex[:8], audience
        self.key = PRIVATE_KEYS[algorithm]()
        public = json.loads(jwt.algorithms.get_default_algorithms()[algorithm].to_jwk(self.key.public_key()))
        self.jwks = {"keys": [{**public, "kid": self.kid, "use": "sig"}]}

    def sign(self, client_id: str, aud=None, lifetime: int = 60, headers=None, drop=(), **claims) -> str:
        """An assertion for ``client_id``, to ``aud`` (default: the signer's audience, else the issuer)."""
        if aud is None:
            from django.conf import settings

            aud = self.audience or settings.OAUTH_ISSUER
        now = int(time.time())
        body = {
            "iss": client_id, "sub": client_id, "aud": aud,
            "iat": now, "exp": now + lifetime, "jti": uuid.uuid4().hex, **claims,
        }  # fmt: skip
        body = {name: value for name, value in body.items() if name not in drop}
        return jwt.encode(
            body, self.key, algorithm=self.algorithm, headers={"kid": self.kid, **(headers or {})}
        )


def token_request(assertion: str, **data) -> dict:
    """A client_credentials token request authenticated by ``assertion``."""
    return {"grant_type": "client_credentials", **credentials(assertion), **data}


def credentials(assertion: str) -> dict:
    """RFC 7523 §2.2 client authentication parameters."""
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}

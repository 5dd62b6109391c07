"""A simulated enterprise identity provider for tests: its signing key, its JWK Set and the identity
assertion authorization grants (ID-JAG) it issues, generated per test."""

from __future__ import annotations

import time
import uuid

import jwt

from tests.assertion_signer import Signer

TYP = "oauth-id-jag+jwt"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class IdentityProvider:
    """Issues ID-JAGs as ``issuer`` for the authorization server ``audience`` and its ``resource``."""

    def __init__(self, issuer: str, audience: str, resource: str, algorithm: str = "RS256"):
        self.issuer, self.audience, self.resource = issuer, audience, resource
        self.signer = Signer(algorithm)

    @property
    def jwks(self) -> dict:
        return self.signer.jwks

    def jag(
        self, client: str, subject: str = "U0001", typ: str = TYP, lifetime: int = 300, drop=(), **claims
    ) -> str:
        """An ID-JAG for ``subject`` issued to the client ``client``; keyword arguments override or add
        claims (``aud``, ``resource``, ``iss``, ``client_id``, ``scope``, ``email``...); ``drop`` leaves
        claims out."""
        now = int(time.time())
        body = {
            "iss": self.issuer, "sub": subject, "aud": self.audience, "resource": self.resource,
            "client_id": client, "iat": now, "exp": now + lifetime, "jti": uuid.uuid4().hex, **claims,
        }  # fmt: skip
        body = {name: value for name, value in body.items() if name not in drop}
        headers = {"kid": self.signer.kid, "typ": typ}
        return jwt.encode(body, self.signer.key, algorithm=self.signer.algorithm, headers=headers)


def token_request(assertion: str, **data) -> dict:
    """A jwt-bearer token request presenting ``assertion`` (client authentication added by the caller)."""
    return {"grant_type": JWT_BEARER, "assertion": assertion, **data}

"""Identity assertion authorization grants (ID-JAG, draft-ietf-oauth-identity-assertion-authz-grant and
the MCP enterprise-managed authorization extension): the only code that verifies a JWT an identity
provider signed.

An ID-JAG is accepted when its header ``typ`` is ``oauth-id-jag+jwt``, it is signed by an allowed
asymmetric algorithm with a key published at the ``jwks_uri`` of the enabled ``IdentityProvider``
whose ``issuer`` is its ``iss``, its ``aud`` is this server's issuer, its ``resource`` is a resource
this server issues tokens for, its ``client_id`` is the authenticated client (one the provider lists),
``exp`` is at most ``IDENTITY_ASSERTION_MAX_LIFETIME`` away, ``iat`` is not in the future beyond
``IDENTITY_ASSERTION_LEEWAY``, and its ``jti`` was never seen before on any instance. Every refusal is
``invalid_grant`` (RFC 7521 §5.2), except a client the provider does not list (``unauthorized_client``).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from oauthlib.oauth2.rfc6749.errors import UnauthorizedClientError

import sharedstate

from . import assertions, clientkeys, conf, outages, resource_indicators
from .exceptions import InvalidIdentityAssertion, Unavailable
from .models import IdentityProvider

TYP = "oauth-id-jag+jwt"
REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "jti", "client_id", "resource"]


@dataclass(frozen=True)
class Grant:
    """A verified ID-JAG: who issued it, and its claims."""

    provider: IdentityProvider
    claims: dict[str, Any]

    @property
    def resource(self) -> list[str]:
        return [self.claims["resource"]]

    @property
    def scopes(self) -> list[str] | None:
        """The scopes the provider granted (``scope`` claim), None when it names none."""
        scope = self.claims.get("scope")
        return scope.split() if isinstance(scope, str) else None


def verify(assertion: str, client) -> Grant:
    """The verified ID-JAG ``assertion`` presented by the authenticated ``client``; spends its ``jti``.

    ``InvalidIdentityAssertion`` for anything wrong with it; ``UnauthorizedClientError`` when its
    provider does not let this client exchange its assertions; ``Unavailable`` when the replay cache
    is unreachable.
    """
    header = assertions.unverified_header(assertion, InvalidIdentityAssertion, "assertion")
    if header.get("typ") != TYP:
        raise InvalidIdentityAssertion(f"The assertion's typ must be {TYP}.")
    algorithm = header.get("alg")
    if algorithm not in assertions.ALGORITHMS:
        raise InvalidIdentityAssertion(
            f"The assertion's alg must be one of {', '.join(assertions.ALGORITHMS)}."
        )
    provider = _provider(
        assertions.unverified_claims(assertion, InvalidIdentityAssertion, "assertion").get("iss")
    )
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    claims = _decode(assertion, _keys(provider, kid), algorithm, provider.issuer)
    _check_claims(claims, client, provider)
    _spend(provider, claims)
    return Grant(provider, claims)


def _provider(issuer: Any) -> IdentityProvider:
    provider = IdentityProvider.objects.filter(issuer=issuer).first() if isinstance(issuer, str) else None
    if provider is None:
        raise InvalidIdentityAssertion("The assertion's iss is not a trusted identity provider.")
    if not provider.enabled:
        raise InvalidIdentityAssertion(
            "The assertion's identity provider has been disabled by an administrator."
        )
    return provider


def _keys(provider: IdentityProvider, kid: str | None) -> list[dict]:
    try:
        keys = clientkeys.keys_at(provider.jwks_uri, kid)
    except clientkeys.KeySetUnavailable as exc:
        raise InvalidIdentityAssertion(f"The identity provider's jwks_uri {exc}") from exc
    if not keys:
        raise InvalidIdentityAssertion("No key of the identity provider matches the assertion's kid.")
    return keys


_WORDING = assertions.Wording(
    "The assertion", "aud must be this server's issuer", "iss must be the identity provider's issuer",
    "the identity provider",
)


def _decode(assertion: str, keys: list[dict], algorithm: str, issuer: str) -> dict:
    return assertions.decode_signed(
        assertion, keys, algorithm, audience=conf.get("ISSUER"), issuer=issuer,
        leeway=conf.get("IDENTITY_ASSERTION_LEEWAY"), required=REQUIRED_CLAIMS, wording=_WORDING,
        error=InvalidIdentityAssertion,
    )  # fmt: skip


def _check_claims(claims: dict, client, provider: IdentityProvider) -> None:
    """The resource, the client, the subject and a short life (MCP extension §5.1, §6.4, §6.6)."""
    if claims["resource"] not in resource_indicators.allowed():
        raise InvalidIdentityAssertion("The assertion's resource is not one this server issues tokens for.")
    if claims["client_id"] != client.client_id:
        raise InvalidIdentityAssertion(
            "The assertion was issued to another client than the one authenticated."
        )
    if not provider.clients.filter(pk=client.pk).exists():
        description = "This client may not exchange this identity provider's assertions."
        raise UnauthorizedClientError(description=description)
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise InvalidIdentityAssertion("The assertion's sub must be a non-empty string.")
    if "scope" in claims and not isinstance(claims["scope"], str):
        raise InvalidIdentityAssertion("The assertion's scope must be a space-separated string.")
    longest = conf.get("IDENTITY_ASSERTION_MAX_LIFETIME")
    start = claims["iat"] if isinstance(claims["iat"], int | float) else time.time()
    if claims["exp"] - min(start, time.time()) > longest + conf.get("IDENTITY_ASSERTION_LEEWAY"):
        raise InvalidIdentityAssertion(f"An assertion may live at most {longest} seconds.")


def _spend(provider: IdentityProvider, claims: dict) -> None:
    """Each ``jti`` once per provider, on every instance, until the assertion expires (MCP §6.4.2)."""
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise InvalidIdentityAssertion("The assertion's jti must be a non-empty string.")
    ttl = int(claims["exp"] - time.time()) + conf.get("IDENTITY_ASSERTION_LEEWAY") + 1
    spent = hashlib.sha256(f"{provider.issuer}\n{jti}".encode()).hexdigest()
    try:
        first = sharedstate.seen_once(f"id-jag:{spent}", max(ttl, 1))
    except outages.OUTAGES:
        outages.warn("The shared state is unreachable: identity assertion grants are refused")
        raise Unavailable(description="The server cannot check identity assertions right now.") from None
    if not first:
        raise InvalidIdentityAssertion("This assertion was already used (jti replay).")

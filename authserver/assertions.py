"""Signed client assertions (private_key_jwt): RFC 7523 §2.2 and §3, OIDC Core §9. The only code that
verifies a JWT a client signed.

An assertion authenticates its client when it is a JWT signed with one of the client's registered
public keys (``clientkeys``) by an allowed asymmetric algorithm, with ``iss`` = ``sub`` = the
client_id, ``aud`` naming this server's issuer or the endpoint called, an ``exp`` at most
``CLIENT_ASSERTION_MAX_LIFETIME`` away, ``iat`` and ``nbf`` (when present) not in the future beyond
``CLIENT_ASSERTION_LEEWAY``, and a ``jti`` never seen before on any instance.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

import jwt

import sharedstate

from . import clientkeys, conf, outages
from .exceptions import InvalidClientAssertion, Unavailable

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Asymmetric only: never "none", never HS* (a client's public key is no shared secret).
ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]
MAX_ASSERTION_BYTES = 8 * 1024
REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "jti"]


def issuer(assertion: str) -> str:
    """The client an assertion claims to come from (its unverified ``iss``), to find its keys by."""
    claims = unverified_claims(assertion)
    client_id = claims.get("iss")
    if not isinstance(client_id, str) or not client_id:
        raise InvalidClientAssertion("The client assertion has no iss naming the client.")
    return client_id


def verify(assertion: str, client_id: str, policy, audiences: list[str]) -> dict[str, Any]:
    """The claims of ``assertion`` once it authenticates ``client_id`` (whose ``ClientPolicy`` holds its
    keys) for one of ``audiences``; else ``InvalidClientAssertion``. Spends its ``jti``."""
    header = unverified_header(assertion)
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise InvalidClientAssertion(f"The client assertion's alg must be one of {', '.join(ALGORITHMS)}.")
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    keys = clientkeys.keys_for(policy, kid)
    if not keys:
        raise InvalidClientAssertion("No key registered for this client matches the assertion's kid.")
    claims = _decode(assertion, keys, algorithm, client_id, audiences)
    _check_lifetime(claims)
    _spend(client_id, claims)
    return claims


def unverified_header(assertion: str, error=InvalidClientAssertion, what: str = "client assertion") -> dict:
    """The JOSE header of a signed assertion (of at most ``MAX_ASSERTION_BYTES``), before any check;
    ``error`` (an OAuth error taking a description) for anything that is not such a JWT."""
    return _unverified(assertion, lambda: jwt.get_unverified_header(assertion), error, what)


def unverified_claims(assertion: str, error=InvalidClientAssertion, what: str = "client assertion") -> dict:
    """The claims of a signed assertion before any check (to find its keys by); as ``unverified_header``."""
    read = partial(jwt.decode, assertion, options={"verify_signature": False})
    return _unverified(assertion, read, error, what)


def verifiers(keys: list[dict], algorithm: str):
    """The PyJWKs of ``keys`` usable with ``algorithm`` (keys of another type are skipped)."""
    for key in keys:
        try:
            yield jwt.PyJWK(key, algorithm)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue


def _unverified(assertion: str, read, error, what: str) -> dict:
    if not isinstance(assertion, str) or len(assertion) > MAX_ASSERTION_BYTES:
        raise error(f"The {what} is missing or too large.")
    try:
        value = read()
    except jwt.PyJWTError as exc:
        raise error(f"The {what} is not a JWT.") from exc
    if not isinstance(value, dict):
        raise error(f"The {what} is not a JWT.")
    return value


@dataclass(frozen=True)
class Wording:
    """How refusals name a kind of signed assertion: ``what`` (``"The client assertion"``), the rules
    of its ``aud`` and ``iss``, and whose keys signed it."""

    what: str
    audience_rule: str
    issuer_rule: str
    key_owner: str


CLIENT_ASSERTION = Wording(
    "The client assertion", "aud must be the issuer or this endpoint", "iss must be the client_id", "the client"
)


def decode_signed(
    assertion: str, keys: list[dict], algorithm: str, *, audience, issuer: str, leeway: int,
    required: list[str], wording: Wording, error: type[Exception],
) -> dict:  # fmt: skip
    """Check the signature with each candidate key, then the registered claims (RFC 7523 §3): the claims,
    or ``error`` saying (in ``wording``) which check failed."""
    what = wording.what
    for verifier in verifiers(keys, algorithm):
        try:
            return jwt.decode(
                assertion, verifier, algorithms=[algorithm], audience=audience, issuer=issuer,
                leeway=leeway, options={"require": required},
            )  # fmt: skip
        except jwt.InvalidSignatureError:
            continue
        except jwt.ExpiredSignatureError as exc:
            raise error(f"{what} has expired.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise error(f"{what} is not valid yet (iat or nbf).") from exc
        except jwt.InvalidAudienceError as exc:
            raise error(f"{what}'s {wording.audience_rule}.") from exc
        except jwt.InvalidIssuerError as exc:
            raise error(f"{what}'s {wording.issuer_rule}.") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise error(f"{what} lacks the {exc.claim} claim.") from exc
        except jwt.PyJWTError as exc:
            raise error(f"{what} is invalid ({exc}).") from exc
    raise error(f"{what}'s signature matches none of {wording.key_owner}'s keys.")


def _decode(assertion: str, keys: list[dict], algorithm: str, client_id: str, audiences: list[str]) -> dict:
    claims = decode_signed(
        assertion, keys, algorithm, audience=audiences, issuer=client_id,
        leeway=conf.get("CLIENT_ASSERTION_LEEWAY"), required=REQUIRED_CLAIMS, wording=CLIENT_ASSERTION,
        error=InvalidClientAssertion,
    )  # fmt: skip
    if claims.get("sub") != client_id:
        raise InvalidClientAssertion("The client assertion's sub must be the client_id.")
    return claims


def _check_lifetime(claims: dict) -> None:
    """A short-lived assertion only: its jti is remembered until it expires."""
    longest = conf.get("CLIENT_ASSERTION_MAX_LIFETIME")
    now = time.time()
    start = claims.get("iat") if isinstance(claims.get("iat"), int | float) else now
    if claims["exp"] - min(start, now) > longest + conf.get("CLIENT_ASSERTION_LEEWAY"):
        raise InvalidClientAssertion(f"A client assertion may live at most {longest} seconds.")


def _spend(client_id: str, claims: dict) -> None:
    """RFC 7523 §3 item 7: each ``jti`` once per client, on every instance, until the assertion expires."""
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise InvalidClientAssertion("The client assertion's jti must be a non-empty string.")
    ttl = int(claims["exp"] - time.time()) + conf.get("CLIENT_ASSERTION_LEEWAY") + 1
    try:
        spent = hashlib.sha256(f"{client_id}\n{jti}".encode()).hexdigest()
        first = sharedstate.seen_once(f"client-assertion:{spent}", max(ttl, 1))
    except outages.OUTAGES:
        outages.warn("The shared state is unreachable: signed client assertions are refused")
        raise Unavailable(description="The server cannot check client assertions right now.") from None
    if not first:
        raise InvalidClientAssertion("This client assertion was already used (jti replay).")

"""Clients' public keys for signed assertions (private_key_jwt): what a registered JWK Set may hold, and
the keys of a client, from its stored JWK Set or its ``jwks_uri``; and the keys at any ``jwks_uri``
(an identity provider's too, ``authserver.idjag``).

A ``jwks_uri`` is fetched like a Client ID Metadata Document (``cimd.MetadataFetcher``: https only,
public addresses only unless the host is in ``CIMD_PRIVATE_HOSTS``, one deadline for the whole fetch),
kept in the shared state for ``CLIENT_JWKS_CACHE_SECONDS``, and fetched again early, at most once per
``CLIENT_JWKS_REFRESH_SECONDS``, when an assertion names a key it does not hold (a rotated key).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import jwt
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from oauth2_provider import cimd as dot_cimd

import sharedstate

from . import conf, outages
from .exceptions import InvalidClientAssertion

log = logging.getLogger(__name__)

KEY_TYPES = {"RSA", "EC", "OKP"}
# RFC 7518 §6.2.2, §6.3.2 and RFC 8037 §2: members only a private (or symmetric) key has.
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
MAX_KEYS = 20


def jwks_problem(jwks: Any) -> str | None:
    """Why ``jwks`` is not a JWK Set of public signing keys (RFC 7517 §5), or None when it is."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        return 'A JWK Set is an object with a non-empty "keys" array.'
    if len(keys) > MAX_KEYS:
        return f"A JWK Set may hold at most {MAX_KEYS} keys."
    for index, key in enumerate(keys):
        if not isinstance(key, dict) or key.get("kty") not in KEY_TYPES:
            return f"Key {index}: kty must be one of {', '.join(sorted(KEY_TYPES))} (no symmetric keys)."
        if PRIVATE_MEMBERS & set(key):
            return f"Key {index} holds private key material; register public keys only."
        if key.get("use", "sig") != "sig":
            return f"Key {index}: use must be sig."
        try:
            jwt.PyJWK(key)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
            return f"Key {index} is not a usable public key ({exc})."
    return None


def jwks_uri_problem(uri: Any) -> str | None:
    """Why ``uri`` cannot be a client's ``jwks_uri`` (an absolute https URL), or None."""
    try:
        URLValidator(schemes=["https"])(uri)
    except ValidationError:
        return "jwks_uri must be an absolute https URL."
    return None


def registration_problem(method: str, jwks: Any, jwks_uri: str) -> str | None:
    """Why a client's authentication settings do not fit together, or None.

    A client signing assertions has exactly one source of keys (a JWK Set or a ``jwks_uri``); any other
    client has neither.
    """
    if method != "private_key_jwt":
        return (
            "Only a private_key_jwt client registers keys (jwks or jwks_uri)." if jwks or jwks_uri else None
        )
    if bool(jwks) == bool(jwks_uri):
        return "A private_key_jwt client registers exactly one of jwks and jwks_uri."
    return jwks_problem(jwks) if jwks else jwks_uri_problem(jwks_uri)


class KeySetUnavailable(Exception):
    """A ``jwks_uri`` that could not be fetched, or holds no valid JWK Set (the message says which)."""


def keys_for(policy, kid: str | None) -> list[dict]:
    """The client's public JWKs that may have signed an assertion with header ``kid`` (all of them when
    it names none)."""
    if policy.jwks:
        return _matching(policy.jwks, kid)
    try:
        return keys_at(policy.jwks_uri, kid)
    except KeySetUnavailable as exc:
        raise InvalidClientAssertion(f"The client's jwks_uri {exc}") from exc


def keys_at(uri: str, kid: str | None) -> list[dict]:
    """The public JWKs published at ``uri`` that may have signed a JWT with header ``kid`` (all of them
    when it names none): shared by every instance for ``CLIENT_JWKS_CACHE_SECONDS``, fetched again early
    (at most once per ``CLIENT_JWKS_REFRESH_SECONDS``) for a ``kid`` not held. ``KeySetUnavailable``
    when the set cannot be fetched or is not one. Client and identity provider keys alike."""
    keys = _matching(_cached(uri) or _fetch(uri), kid)
    if not keys and kid is not None and _may_refresh(uri):
        keys = _matching(_fetch(uri), kid)
    return keys


def _matching(jwks: dict, kid: str | None) -> list[dict]:
    keys = [key for key in jwks.get("keys", []) if isinstance(key, dict)]
    return keys if kid is None else [key for key in keys if key.get("kid") == kid]


def _cache_key(uri: str) -> str:
    return "client-jwks:" + hashlib.sha256(uri.encode()).hexdigest()


def _cached(uri: str) -> dict | None:
    try:
        return sharedstate.get(_cache_key(uri))
    except outages.OUTAGES:
        return None


def _may_refresh(uri: str) -> bool:
    try:
        return sharedstate.seen_once(_cache_key(uri) + ":refresh", conf.get("CLIENT_JWKS_REFRESH_SECONDS"))
    except outages.OUTAGES:
        return False


def _fetch(uri: str) -> dict:
    """Fetch and check the JWK Set at ``uri``, and share it with every instance for a while."""
    from .cimd import MetadataFetcher  # the CIMD fetcher's SSRF rules and deadline

    try:
        jwks, _ = MetadataFetcher().fetch_json(uri)
    except dot_cimd.CIMDError as exc:
        log.warning("Could not fetch the JWK Set at %s: %s", uri, exc)
        raise KeySetUnavailable("could not be fetched.") from exc
    problem = jwks_problem(jwks)
    if problem is not None:
        raise KeySetUnavailable(f"holds no valid JWK Set: {problem}")
    try:
        sharedstate.set(_cache_key(uri), jwks, conf.get("CLIENT_JWKS_CACHE_SECONDS"))
        sharedstate.seen_once(_cache_key(uri) + ":refresh", conf.get("CLIENT_JWKS_REFRESH_SECONDS"))
    except outages.OUTAGES:
        outages.warn("The shared state is unreachable: JWK Sets are fetched on every use")
    return jwks

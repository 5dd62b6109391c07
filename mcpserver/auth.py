"""The only code that DECODES access tokens, and the one builder of ``WWW-Authenticate`` challenges.

Tokens are JWTs signed with RS256 by a trusted issuer (``issuers``): this server's own (RFC 9068
tokens, keys from ``KEY_SOURCE``) and any in ``TRUSTED_ISSUERS``. The unverified ``iss`` picks the
issuer; the token is then verified with that issuer's keys (one ``jwks.KeyCache`` each), accepted
``typ`` values, audience and required claims only, and read through its claim paths.

A successful verification is cached per token (keyed by its SHA-256, never beyond its ``exp``) so a
client reusing its token does not pay RS256 on every request; the revocation deny-list
(``denylist``) is consulted on every request, cached or not. When that lookup shows this server's
issuer withdrew a key (``denylist.keys_withdrawn()`` moved), the keys and verifications held here
are dropped and the request is verified again against keys loaded afresh.

A token whose ``cnf.jkt`` binds it to a key (RFC 9449 §6) is accepted only under the ``DPoP`` scheme
with a proof of that key for this very request, checked on every request, cached token or not.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

import jwt

from . import conf, denylist, dpop, issuers, jwks
from .exceptions import InsufficientScope, InvalidDpopProof, InvalidToken, UseDpopNonce
from .tokencache import TokenCache

logger = logging.getLogger(__name__)

ALGORITHMS = jwks.ALGORITHMS
MAX_TOKEN_LENGTH = 8192
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")  # RFC 6750 §2.1 b64token


@dataclass(frozen=True)
class AccessToken:
    """What a verified token says about its caller; never the token itself."""

    digest: str
    subject: str
    client_id: str
    username: str | None
    scopes: frozenset[str]
    roles: frozenset[str]
    expires_at: int
    token_id: str | None = None
    issued_at: int | None = None
    audiences: frozenset[str] = frozenset()
    issuer: str = ""
    jkt: str | None = None  # RFC 9449 §6.1: the thumbprint of the key the token is bound to

    @property
    def scheme(self) -> str:
        """The authorization scheme this token is used with: ``DPoP`` when bound to a key."""
        return "Bearer" if self.jkt is None else "DPoP"

    def missing(self, required: list[str] | tuple[str, ...]) -> list[str]:
        return [scope for scope in required if scope not in self.scopes]

    def require(self, required: list[str] | tuple[str, ...]) -> None:
        """Raise ``InsufficientScope`` naming every scope the operation needs when any is missing."""
        if self.missing(required):
            raise InsufficientScope(list(required), scheme=self.scheme)

    def has_roles(self, roles: list[str] | tuple[str, ...]) -> bool:
        """A definition that names roles needs any one of them; one that names none needs none."""
        return not roles or bool(self.roles.intersection(roles))


# --- what this process holds: verified tokens, verifying keys ---

_keys = jwks.KeyRing()
_tokens = TokenCache()


def reset() -> None:
    """Forget every cached key and verification (key rotation drills and tests)."""
    global _keys
    _keys = jwks.KeyRing()
    _tokens.clear()
    denylist.forget()


_reload_lock = threading.Lock()


def _reload_keys(withdrawn: int | None) -> tuple[jwks.KeyRing, TokenCache]:
    """The issuer withdrew a key: trust nothing verified with the keys we had.

    Verifications are replaced before keys, and requests read keys before verifications: one that
    holds the new keys never finds a verification made with the old ones (one that holds the old
    keys sees the mismatch itself and comes here).
    """
    global _keys, _tokens
    with _reload_lock:
        if _keys.withdrawn != withdrawn:
            _tokens = TokenCache()
            _keys = jwks.KeyRing(withdrawn)
        return _keys, _tokens


# --- verification ---

_AUDIENCE_ERROR = "The access token was not issued for this resource."
_ISSUER_ERROR = "The access token was not issued by a trusted issuer."
_DECODE_ERRORS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "The access token has expired."),
    (jwt.InvalidAudienceError, _AUDIENCE_ERROR),
    (jwt.InvalidIssuerError, _ISSUER_ERROR),
    (jwt.ImmatureSignatureError, "The access token is not valid yet."),
    (jwt.MissingRequiredClaimError, "The access token lacks a required claim."),
    (jwt.InvalidSignatureError, "The access token's signature is invalid."),
]


def _issuer(token: str) -> issuers.Issuer:
    """The trusted issuer the token claims to come from (its ``iss``, read before any verification)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidToken("The access token is malformed.") from exc
    found = issuers.find(claims.get("iss"))
    if found is None:
        raise InvalidToken(_ISSUER_ERROR)
    return found


def _decode(
    token: str, keys: jwks.KeyRing | None = None, audience: str | None = None
) -> tuple[issuers.Issuer, dict[str, Any]]:
    """Verify the token with its issuer's keys and rules; ``audience`` as ``authenticate`` takes it."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("The access token is malformed.") from exc
    if header.get("alg") not in ALGORITHMS:
        raise InvalidToken("The access token's algorithm is not allowed.")
    issuer = _issuer(token)
    if str(header.get("typ", "")).lower() not in issuer.accepted_typ:
        if issuer.accepted_typ == frozenset(issuers.RFC9068_TYPES):
            raise InvalidToken("The access token is not an RFC 9068 access token (typ at+jwt).")
        raise InvalidToken("The access token's type (typ) is not accepted.")
    kid = header.get("kid")
    key = (keys or _keys).for_source(issuer.key_source).get(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidToken("The access token was signed by an unknown key.")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=issuer.audiences(audience),
            issuer=issuer.issuer,
            leeway=conf.get("LEEWAY_SECONDS"),
            options={"require": ["exp", "iat", "iss", "aud", "sub"], "strict_aud": False},
        )
    except jwt.PyJWTError as exc:
        message = next(
            (text for kind, text in _DECODE_ERRORS if isinstance(exc, kind)), "The access token is invalid."
        )
        raise InvalidToken(message) from exc
    if any(claims.get(name) != value for name, value in issuer.require.items()):
        raise InvalidToken("The access token is not an access token of its issuer.")
    return issuer, claims


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _access_token(digest: str, claims: dict[str, Any], issuer: issuers.Issuer) -> AccessToken:
    scope = issuer.read(claims, "scope")
    if scope is None and isinstance(claims.get("scp"), list):  # issuers that send a list (scp)
        scope = " ".join(_strings(claims["scp"]))
    if not isinstance(scope, str | None):
        raise InvalidToken("The access token's scope claim is malformed.")
    username = issuer.read(claims, "username")
    client_id = issuer.read(claims, "client_id") or claims.get("client_id") or claims.get("azp")
    audience = claims["aud"]
    return AccessToken(
        digest=digest,
        subject=str(claims["sub"]),
        client_id=str(client_id or ""),
        username=username if isinstance(username, str) else None,
        scopes=frozenset((scope or "").split()),
        roles=frozenset(issuer.roles(claims)),
        expires_at=int(claims["exp"]),
        token_id=claims.get("jti") if isinstance(claims.get("jti"), str) else None,
        issued_at=int(claims["iat"]),
        audiences=frozenset(_strings(audience) if isinstance(audience, list) else [str(audience)]),
        issuer=issuer.issuer,
        jkt=_bound_key(claims.get("cnf")),
    )


def _bound_key(cnf: Any) -> str | None:
    if cnf is None:
        return None
    if not isinstance(cnf, dict) or not isinstance(cnf.get("jkt"), str):
        raise InvalidToken("The access token's cnf claim is malformed.")
    return cnf["jkt"]


SCHEMES = {"bearer": "Bearer", "dpop": "DPoP"}


def credentials(authorization: str | None) -> tuple[str, str]:
    """The scheme (``Bearer`` or ``DPoP``) and the token of an ``Authorization`` header (RFC 6750 §2.1,
    RFC 9449 §7.1); a request without one raises a challenge without error."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    scheme = SCHEMES.get(scheme.lower(), "")
    if not scheme:
        missing = InvalidToken("An access token is required.", token_sent=False)
        raise _in_scheme(missing, "DPoP" if conf.get("DPOP_REQUIRED") else "Bearer")
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH or not _TOKEN_CHARS.match(token):
        raise _in_scheme(InvalidToken("The access token is malformed."), scheme)
    return scheme, token


def bearer_token(authorization: str | None) -> str:
    """Extract the token of an RFC 6750 §2.1 (or RFC 9449 §7.1) header; none raises a bare challenge."""
    return credentials(authorization)[1]


def authenticate(
    authorization: str | None,
    audience: str | None = None,
    *,
    proof: str | None = None,
    method: str = "POST",
    uri: str | None = None,
) -> AccessToken:
    """Verify the access token of one request and return who is calling, or raise ``InvalidToken``.

    ``audience``: the ``aud`` the token must name (RFC 9068 §4); None or ``RESOURCE_URL``: the MCP
    resource, as the token's issuer configures it (``issuers.Issuer.audiences``).
    ``proof``, ``method``, ``uri``: the request's ``DPoP`` header, method and target URI (None:
    ``RESOURCE_URL``), checked against a DPoP-bound token (RFC 9449 §7.1).
    """
    scheme, token = credentials(authorization)
    try:
        verified = _verified(token, audience)
        if verified.jkt is not None or scheme == "DPoP" or conf.get("DPOP_REQUIRED"):
            _check_proof(scheme, token, verified, proof, method, uri or conf.get("RESOURCE_URL"))
    except InvalidToken as exc:
        _in_scheme(exc, "DPoP" if scheme == "DPoP" else exc.scheme)
        raise
    return verified


def _in_scheme(exc: InvalidToken, scheme: str) -> InvalidToken:
    if scheme != exc.scheme:
        exc.scheme = scheme
    return exc


def _verified(token: str, audience: str | None) -> AccessToken:
    digest = hashlib.sha256(token.encode()).hexdigest()
    keys, tokens = _keys, _tokens  # in this order (see _reload_keys)
    verified = _verify(token, digest, keys, tokens, audience)
    withdrawn = denylist.keys_withdrawn()  # as of the deny-list lookup just made (or still current)
    if withdrawn != keys.withdrawn:  # one comparison per request; a reload once per withdrawal
        keys, tokens = _reload_keys(withdrawn)
        verified = _verify(token, digest, keys, tokens, audience)
    return verified


def _check_proof(
    scheme: str, token: str, verified: AccessToken, proof: str | None, method: str, uri: str
) -> None:
    """RFC 9449 §7.1/§7.2: a bound token only with the DPoP scheme and a proof of its key for this request;
    an unbound one never with the DPoP scheme, nor at all where ``DPOP_REQUIRED``."""
    if scheme != "DPoP" and verified.jkt is not None:
        refused = InvalidToken("This access token is DPoP-bound: send it with the DPoP scheme.")
        raise _in_scheme(refused, "DPoP")
    if verified.jkt is None:
        if conf.get("DPOP_REQUIRED"):
            raise _in_scheme(InvalidToken("This resource accepts only DPoP-bound access tokens."), "DPoP")
        raise InvalidToken("This access token is not DPoP-bound: send it with the Bearer scheme.")
    window = conf.get("DPOP_NONCE_SECONDS") if conf.get("DPOP_NONCE_REQUIRED") else None
    try:
        checked = dpop.verify(
            proof,
            method=method,
            uri=uri,
            lifetime=conf.get("DPOP_PROOF_LIFETIME"),
            leeway=conf.get("LEEWAY_SECONDS"),
            access_token=token,
            nonce_window=window,
            algorithms=tuple(conf.get("DPOP_ALGORITHMS")),
        )
    except dpop.UseNonce as exc:
        raise UseDpopNonce(str(exc), nonce=dpop.nonce(window)) from exc
    except dpop.InvalidProof as exc:
        raise InvalidDpopProof(str(exc)) from exc
    if checked.jkt != verified.jkt:
        raise InvalidDpopProof("The DPoP proof's key is not the key this access token is bound to.")


def _verify(
    token: str, digest: str, keys: jwks.KeyRing, tokens: TokenCache, audience: str | None
) -> AccessToken:
    verified = tokens.get(digest)
    if verified is None:
        issuer, claims = _decode(token, keys, audience)
        verified = _access_token(digest, claims, issuer)
        if _revoked(verified, issuer):
            raise InvalidToken("The access token has been revoked.")
        tokens.put(verified)
        return verified
    issuer = issuers.find(verified.issuer)
    if issuer is None:  # no longer trusted
        tokens.discard(digest)
        raise InvalidToken(_ISSUER_ERROR)
    if _revoked(verified, issuer):
        tokens.discard(digest)
        raise InvalidToken("The access token has been revoked.")
    if verified.audiences.isdisjoint(issuer.audiences(audience)):  # verified earlier for another audience
        raise InvalidToken(_AUDIENCE_ERROR)
    return verified


def _revoked(token: AccessToken, issuer: issuers.Issuer) -> bool:
    """The deny-list answers for every token; ``REVOCATION_FALLBACK`` (this issuer's own records) only
    for this server's issuer's."""
    return denylist.is_revoked(token.digest, token.issued_at, fallback=issuer.own)

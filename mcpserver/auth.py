"""The only code that DECODES access tokens, and the one builder of ``WWW-Authenticate`` challenges.

Tokens are RFC 9068 JWTs signed with RS256 by a key named in the JWKS of the key source
(``jwks``). A successful verification is cached per token (keyed by its SHA-256, never beyond its
``exp``) so a client reusing its token does not pay RS256 on every request; the revocation
deny-list (``denylist``) is consulted on every request, cached or not. When that lookup shows the
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
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt

from . import conf, denylist, dpop, jwks
from .exceptions import HttpError, InsufficientScope, InvalidDpopProof, InvalidToken, UseDpopNonce

logger = logging.getLogger(__name__)

ALGORITHMS = jwks.ALGORITHMS
TOKEN_TYPES = {"at+jwt", "application/at+jwt"}
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


class TokenCache:
    """A bounded LRU of verified tokens by SHA-256; an entry never outlives its token."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, AccessToken]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> AccessToken | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if entry[0] <= time.time():
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return entry[1]

    def put(self, token: AccessToken) -> None:
        until = min(float(token.expires_at), time.time() + conf.get("TOKEN_CACHE_SECONDS"))
        with self._lock:
            self._entries[token.digest] = (until, token)
            self._entries.move_to_end(token.digest)
            while len(self._entries) > conf.get("TOKEN_CACHE_SIZE"):
                self._entries.popitem(last=False)

    def discard(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_keys = jwks.KeyCache()
_tokens = TokenCache()


def reset() -> None:
    """Forget every cached key and verification (key rotation drills and tests)."""
    global _keys
    _keys = jwks.KeyCache()
    _tokens.clear()
    denylist.forget()


_reload_lock = threading.Lock()


def _reload_keys(withdrawn: int | None) -> tuple[jwks.KeyCache, TokenCache]:
    """The issuer withdrew a key: trust nothing verified with the keys we had.

    Verifications are replaced before keys, and requests read keys before verifications: one that
    holds the new keys never finds a verification made with the old ones (one that holds the old
    keys sees the mismatch itself and comes here).
    """
    global _keys, _tokens
    with _reload_lock:
        if _keys.withdrawn != withdrawn:
            _tokens = TokenCache()
            _keys = jwks.KeyCache(withdrawn)
        return _keys, _tokens


# --- verification ---

_AUDIENCE_ERROR = "The access token was not issued for this resource."
_DECODE_ERRORS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "The access token has expired."),
    (jwt.InvalidAudienceError, _AUDIENCE_ERROR),
    (jwt.InvalidIssuerError, "The access token was not issued by a trusted issuer."),
    (jwt.ImmatureSignatureError, "The access token is not valid yet."),
    (jwt.MissingRequiredClaimError, "The access token lacks a required claim."),
    (jwt.InvalidSignatureError, "The access token's signature is invalid."),
]


def _decode(token: str, keys: jwks.KeyCache | None = None, audience: str | None = None) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("The access token is malformed.") from exc
    if header.get("alg") not in ALGORITHMS:
        raise InvalidToken("The access token's algorithm is not allowed.")
    if str(header.get("typ", "")).lower() not in TOKEN_TYPES:
        raise InvalidToken("The access token is not an RFC 9068 access token (typ at+jwt).")
    kid = header.get("kid")
    key = (keys or _keys).get(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidToken("The access token was signed by an unknown key.")
    try:
        return jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=audience or conf.get("RESOURCE_URL"),
            issuer=conf.get("ISSUER"),
            leeway=conf.get("LEEWAY_SECONDS"),
            options={"require": ["exp", "iat", "iss", "aud", "sub"], "strict_aud": False},
        )
    except jwt.PyJWTError as exc:
        message = next(
            (text for kind, text in _DECODE_ERRORS if isinstance(exc, kind)), "The access token is invalid."
        )
        raise InvalidToken(message) from exc


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _access_token(digest: str, claims: dict[str, Any]) -> AccessToken:
    scope = claims.get("scope", "")
    if "scope" not in claims and isinstance(claims.get("scp"), list):  # issuers that send a list (scp)
        scope = " ".join(_strings(claims["scp"]))
    if not isinstance(scope, str):
        raise InvalidToken("The access token's scope claim is malformed.")
    audience = claims["aud"]
    return AccessToken(
        digest=digest,
        subject=str(claims["sub"]),
        client_id=str(claims.get("client_id") or claims.get("azp") or ""),
        username=claims.get("username") if isinstance(claims.get("username"), str) else None,
        scopes=frozenset(scope.split()),
        roles=frozenset(_strings(claims.get("roles"))),
        expires_at=int(claims["exp"]),
        token_id=claims.get("jti") if isinstance(claims.get("jti"), str) else None,
        issued_at=int(claims["iat"]),
        audiences=frozenset(_strings(audience) if isinstance(audience, list) else [str(audience)]),
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

    ``audience``: the ``aud`` the token must name (RFC 9068 §4); None: ``RESOURCE_URL``, the MCP resource.
    ``proof``, ``method``, ``uri``: the request's ``DPoP`` header, method and target URI (None:
    ``RESOURCE_URL``), checked against a DPoP-bound token (RFC 9449 §7.1).
    """
    scheme, token = credentials(authorization)
    try:
        verified = _verified(token, audience or conf.get("RESOURCE_URL"))
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


def _verified(token: str, audience: str) -> AccessToken:
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


def _verify(token: str, digest: str, keys: jwks.KeyCache, tokens: TokenCache, audience: str) -> AccessToken:
    verified = tokens.get(digest)
    if verified is None:
        verified = _access_token(digest, _decode(token, keys, audience))
        if denylist.is_revoked(digest, verified.issued_at):
            raise InvalidToken("The access token has been revoked.")
        tokens.put(verified)
    elif denylist.is_revoked(digest, verified.issued_at):
        tokens.discard(digest)
        raise InvalidToken("The access token has been revoked.")
    elif audience not in verified.audiences:  # verified earlier for another audience
        raise InvalidToken(_AUDIENCE_ERROR)
    return verified


# --- challenges ---

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

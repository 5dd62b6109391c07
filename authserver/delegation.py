"""RFC 8693 token exchange, the rules: which subject tokens may be exchanged, by whom, for which targets,
scopes and lifetime, and the ``act`` claim naming who acts.

- The subject token must be an access token this server signed (a verifying key of ours, our ``iss``,
  ``typ`` at+jwt), issued to a user, not expired, and not revoked: its row must still exist (every
  revocation deletes the row and puts it on the deny-list, ``authserver.revoking``), and its user
  must still be active. Anything else is ``invalid_request`` (RFC 8693 §2.2.2).
- The client must be allowed: a confidential client (checked by the grant handler) whose policy is
  enabled and lists token exchange audiences.
- Every ``audience`` and ``resource`` must be on that list (``invalid_target``); at least one is needed.
- The scopes are the requested ones (default: the subject token's), never wider than the subject token
  (``invalid_scope``), narrowed to the client's ceiling and the user's roles of today.
- The new token lives at most as long as the subject token has left, and names the exchanging client in
  ``act`` (nesting the subject token's own ``act``, RFC 8693 §4.1).

An exchanged token is a token of its own: revoking the subject token (or its refresh token family) does
not revoke it. It is recorded for the exchanging client and the subject's user, so revoking that client's
or that user's tokens, disabling the client or deactivating the user reaches it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import jwt
from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error, InvalidRequestError, InvalidScopeError

from . import conf, keys, scopes
from .models import ClientPolicy, access_tokens


@dataclass(frozen=True)
class Subject:
    """What a valid subject token says: whose it is, what it may do, until when, who acted before."""

    user: Any
    scopes: tuple[str, ...]
    expires_at: int
    act: dict[str, Any] | None = None

    def remaining(self) -> int:
        """Seconds the subject token has left (what caps the exchanged token's lifetime)."""
        return int(self.expires_at - time.time())

    def actor_claim(self, client_id: str) -> dict[str, Any]:
        """RFC 8693 §4.1: the exchanging client acts now; earlier actors nest inside."""
        return {"sub": client_id, **({"act": self.act} if self.act else {})}


class Refused(Exception):
    """The subject token cannot be exchanged; the message says why (no token value in it)."""


def policy_of(client) -> ClientPolicy | None:
    """The client's policy, through the relation ``authserver.clientmemo`` keeps loaded with a memoised
    client (no query then); None without one."""
    if client is None:
        return None
    try:
        return client.policy
    except ClientPolicy.DoesNotExist:
        return None


def refusal(client) -> str | None:
    """Why this client may not exchange tokens at all, or None when it may."""
    policy = policy_of(client)
    if policy is None or not policy.exchange_audiences:
        return "This client may not exchange tokens: its policy lists no token exchange audiences."
    if not policy.enabled:
        return "This client has been disabled by an administrator."
    return None


def _claims(value: str) -> dict[str, Any]:
    """The claims of an access token signed by a verifying key of ours, for our issuer; or ``Refused``."""
    try:
        header = jwt.get_unverified_header(value)
    except jwt.InvalidTokenError as exc:
        raise Refused("The subject token is not a JWT access token of this server.") from exc
    if header.get("typ") != "at+jwt" or header.get("alg") != "RS256":
        raise Refused("The subject token is not an RFC 9068 access token of this server.")
    jwk = next((key for key in keys.jwks()["keys"] if key.get("kid") == header.get("kid")), None)
    if jwk is None:
        raise Refused("The subject token was not signed by a key of this server.")
    try:
        return jwt.decode(
            value,
            jwt.PyJWK.from_dict(jwk).key,
            algorithms=["RS256"],
            issuer=conf.get("ISSUER"),
            options={"verify_aud": False, "require": ["iss", "sub", "exp", "iat", "client_id"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Refused("The subject token has expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise Refused("The subject token is invalid or was not issued by this server.") from exc


def subject_of(value: str) -> Subject:
    """The ``Subject`` of a subject token, or ``Refused`` saying why it cannot be exchanged."""
    claims = _claims(value)
    checksum = hashlib.sha256(value.encode()).hexdigest()
    row = access_tokens().select_related("user").filter(token_checksum=checksum).first()
    if row is None or row.is_expired():
        raise Refused("The subject token has been revoked or has expired.")
    if row.user is None:
        raise Refused("Only a token issued to a user can be exchanged (this one is a client's own).")
    if not row.user.is_active:
        raise Refused("The subject token's user is no longer active.")
    act = claims.get("act") if isinstance(claims.get("act"), dict) else None
    expires_at = min(int(claims["exp"]), int(row.expires.timestamp()))
    return Subject(user=row.user, scopes=tuple(row.scope.split()), expires_at=expires_at, act=act)


def check_subject_token(value: str, request) -> Subject:
    """``subject_of`` as the token endpoint answers it: ``invalid_request`` (RFC 8693 §2.2.2)."""
    try:
        subject = subject_of(value)
    except Refused as exc:
        raise InvalidRequestError(description=str(exc), request=request) from None
    if subject.remaining() <= 0:
        raise InvalidRequestError(description="The subject token has expired.", request=request)
    return subject


def check_targets(requested: list[str], client, request) -> list[str]:
    """The token's audience: every requested target, each on the client's allow-list (``invalid_target``)."""
    if not requested:
        description = "Name the API the new token is for with audience or resource (RFC 8693 §2.1)."
        raise InvalidRequestError(description=description, request=request)
    policy = policy_of(client)
    allowed = policy.exchange_audiences if policy is not None else []
    for target in requested:
        if target not in allowed:
            raise CustomOAuth2Error(
                error="invalid_target",
                description=f"This client may not exchange tokens for {target!r}.",
                request=request,
                status_code=400,
            )
    return requested


def narrow_scopes(requested: list[str], subject: Subject, client, request) -> list[str]:
    """The new token's scopes: the requested ones (default: the subject token's), none beyond the subject
    token's, narrowed to the client's ceiling and the user's roles; ``invalid_scope`` otherwise."""
    asked = [name for name in requested if name] or list(subject.scopes)
    wider = [name for name in asked if name not in subject.scopes]
    if wider:
        description = f"The subject token does not carry {' '.join(wider)}; an exchange never widens scopes."
        raise InvalidScopeError(description=description, request=request)
    granted = scopes.effective_scopes(asked, client, subject.user)
    if not granted:
        description = f"None of {' '.join(asked)} is allowed by this client's ceiling and the user's roles."
        raise InvalidScopeError(description=description, request=request)
    return granted

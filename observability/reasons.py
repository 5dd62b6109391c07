"""Why a credential was refused, as a short fixed label (a metrics label value never grows unbounded)."""

from __future__ import annotations

import json

import jwt

from mcpserver.exceptions import InsufficientScope, InvalidToken

# RFC 6749 §5.2 and RFC 8707 error codes a token request can be refused with.
TOKEN_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "invalid_target",
    }
)
_JWT_REASONS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.InvalidAudienceError, "wrong_audience"),
    (jwt.InvalidIssuerError, "wrong_issuer"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.PyJWTError, "malformed"),
]
_DESCRIPTION_REASONS = [
    ("revoked", "revoked"),
    ("unknown key", "unknown_key"),
    ("trusted issuer", "wrong_issuer"),  # an ``iss`` that names no trusted issuer
    ("algorithm", "bad_algorithm"),
]


def refusal_reason(error: Exception) -> str:
    """A short, fixed label for why ``/mcp`` refused a request's token."""
    if isinstance(error, InsufficientScope):
        return "insufficient_scope"
    if isinstance(error, InvalidToken) and not error.token_sent:
        return "missing_token"
    cause = error.__cause__
    for kind, reason in _JWT_REASONS:
        if isinstance(cause, kind):
            return reason
    description = str(getattr(error, "description", "")).lower()
    return next((reason for text, reason in _DESCRIPTION_REASONS if text in description), "invalid_token")


def token_refusal_reason(body: bytes) -> str:
    """``token_<error>`` from a token endpoint error body (RFC 6749 §5.2), ``token_other`` when unknown."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = None
    return f"token_{error}" if error in TOKEN_ERRORS else "token_other"

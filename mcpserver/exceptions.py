"""Typed errors: each carries its JSON-RPC code or HTTP status; ``views`` turns them into responses."""

from __future__ import annotations

from typing import Any


class McpError(Exception):
    """A JSON-RPC error. ``status`` is the 2026-07-28 HTTP status; ``legacy_status`` the 2025 one."""

    code = -32603
    message = "Internal error"
    status = 500
    legacy_status = 200

    def __init__(self, message: str | None = None, data: Any = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.data = data

    def as_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ParseError(McpError):
    code, message, status, legacy_status = -32700, "Parse error", 400, 400


class InvalidRequest(McpError):
    code, message, status, legacy_status = -32600, "Invalid request", 400, 400


class BodyTooLarge(InvalidRequest):
    message, status, legacy_status = "Request body too large", 413, 413


class UnsupportedMediaType(InvalidRequest):
    message, status, legacy_status = "Content-Type must be application/json", 415, 415


class MethodNotFound(McpError):
    code, message, status = -32601, "Method not found", 404


class InvalidParams(McpError):
    code, message, status = -32602, "Invalid params", 400


class InternalError(McpError):
    """A bug on our side (never caused by input): 500, so that monitoring sees it."""

    code, message, status, legacy_status = -32603, "Internal error", 500, 500


class HeaderMismatch(McpError):
    code, message, status, legacy_status = -32020, "Header mismatch", 400, 400


class MissingClientCapability(McpError):
    code, message, status = -32021, "Missing required client capability", 400


class UnsupportedProtocolVersion(McpError):
    code, message, status, legacy_status = -32022, "Unsupported protocol version", 400, 400


class SessionNotFound(McpError):
    code, message, status, legacy_status = -32001, "Session not found", 404, 404


class ServiceUnavailable(McpError):
    """The database or the shared cache is unreachable for now (``observability.outages.OUTAGES``): 503
    with ``Retry-After`` in every era."""

    code, message, status, legacy_status = -32000, "Service temporarily unavailable; retry shortly", 503, 503
    retry_after = 5


class TooManyRequests(McpError):
    """This caller already has ``MAX_INFLIGHT_PER_CALLER`` requests in flight on this worker: 429 with
    ``Retry-After`` in every era, so that one caller never holds every thread."""

    code, status, legacy_status = -32029, 429, 429
    message = "Too many requests in flight for this caller; wait for one to finish, then retry"
    retry_after = 1


class HttpError(Exception):
    """An error answered at the HTTP layer, before or instead of JSON-RPC."""

    status = 400
    error = "invalid_request"
    description = "Bad request"

    def __init__(self, description: str | None = None):
        super().__init__(description or self.description)
        self.description = description or self.description


class InvalidToken(HttpError):
    """RFC 6750 §3.1 ``invalid_token``; ``error`` is None when no token was sent at all."""

    status, error, description = (
        401,
        "invalid_token",
        "The access token is missing, malformed, expired or revoked.",
    )

    scheme = "Bearer"  # the challenge's scheme: "DPoP" once the request or the token involves DPoP

    def __init__(self, description: str | None = None, token_sent: bool = True):
        super().__init__(description)
        self.token_sent = token_sent


class InvalidDpopProof(InvalidToken):
    """RFC 9449 §7.1 ``invalid_dpop_proof``: the DPoP proof is missing, malformed, replayed or mismatched."""

    error, scheme = "invalid_dpop_proof", "DPoP"
    description = "The DPoP proof is missing or invalid."


class UseDpopNonce(InvalidDpopProof):
    """RFC 9449 §9 ``use_dpop_nonce``: retry with a proof carrying ``nonce`` (sent as ``DPoP-Nonce``)."""

    error = "use_dpop_nonce"

    def __init__(self, description: str | None = None, nonce: str = ""):
        super().__init__(description)
        self.nonce = nonce


class InsufficientScope(HttpError):
    """RFC 6750 §3.1 ``insufficient_scope``, naming every scope the operation needs."""

    status, error, description = (
        403,
        "insufficient_scope",
        "The access token lacks a scope this operation needs.",
    )

    def __init__(self, required: list[str], description: str | None = None, scheme: str = "Bearer"):
        super().__init__(description)
        self.required = sorted(set(required))
        self.scheme = scheme  # the challenge's: the scheme the token is used with


class ForbiddenOrigin(HttpError):
    status, error, description = 403, "forbidden_origin", "This Origin may not call the MCP endpoint."


class MethodNotAllowed(HttpError):
    status, error, description = 405, "method_not_allowed", "Use POST (or DELETE to end a session)."

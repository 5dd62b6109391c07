"""OAuth errors (RFC 6749 §5.2): the one this server adds to oauthlib's, descriptions for oauthlib's, and
the one place their JSON responses are built."""

from __future__ import annotations

import json

from django.http import HttpResponse, JsonResponse
from oauthlib.oauth2.rfc6749.errors import InvalidClientError, InvalidGrantError, OAuth2Error


class TooManyRequests(OAuth2Error):
    """A lockout or rate limit: 429 with ``Retry-After`` in the RFC 6749 error shape."""

    error = "temporarily_unavailable"
    status_code = 429

    def __init__(self, retry_after: int, description: str = "Too many attempts; try again later.", **kwargs):
        self.retry_after = max(1, int(retry_after))
        super().__init__(description=description, **kwargs)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after), "Cache-Control": "no-store"}


class InvalidClientAssertion(InvalidClientError):
    """A signed client assertion (RFC 7523 §3) that does not authenticate its client: 401 ``invalid_client``."""

    def __init__(self, description: str, **kwargs):
        super().__init__(description=description, **kwargs)


class InvalidIdentityAssertion(InvalidGrantError):
    """An identity assertion grant (ID-JAG) this server does not accept: 400 ``invalid_grant`` saying why."""

    def __init__(self, description: str, **kwargs):
        super().__init__(description=description, **kwargs)


class Unavailable(OAuth2Error):
    """Something the answer depends on (the shared replay cache) is unreachable: 503, try again."""

    error = "temporarily_unavailable"
    status_code = 503


# RFC 6749 §5.2 error_description for errors oauthlib raises without one (the validator's hooks give
# more specific ones where they can). Never says whether a user or client exists.
DESCRIPTIONS = {
    "invalid_request": "The request is missing a required parameter or has one that is malformed or repeated.",
    "invalid_client": (
        "Client authentication failed: the client is unknown, the secret is wrong, or this client "
        "authenticates differently (public clients send only client_id; confidential ones a secret)."
    ),
    "invalid_grant": (
        "The authorization grant is invalid, expired or revoked, or was issued to another client or "
        "for another redirect_uri or code_verifier."
    ),
    "unauthorized_client": "This client is not allowed to use this grant type.",
    "unsupported_grant_type": (
        "grant_type is missing or not offered here; see grant_types_supported in the server metadata."
    ),
    "invalid_scope": "None of the requested scopes may be granted to this client.",
    "unsupported_token_type": "This server revokes only access and refresh tokens.",
    "server_error": "The server could not complete the request.",
    # RFC 8628 §3.5: a polling device's answers
    "authorization_pending": "The user has not approved this device yet; poll again after the interval.",
    "slow_down": "Polling too fast; wait five seconds longer between polls.",
    "access_denied": "The user denied this device.",
    "expired_token": "The device code has expired or was already used; start again.",
}


def describe(error: str) -> str:
    """The fallback ``error_description`` for an error code."""
    return DESCRIPTIONS.get(error, "The request was refused.")


def oauth_error(error: str, description: str, status: int) -> JsonResponse:
    """An RFC 6749 §5.2 error response, never cached."""
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def oauthlib_response(body: str, status: int, headers: dict, realm: str) -> HttpResponse:
    """oauthlib's answer as a JSON response, every error described (RFC 6749 §5.2).

    A failed client authentication challenges for HTTP Basic, the scheme clients authenticate with
    here, not oauthlib's Bearer (which is for resource servers, RFC 6750).
    """
    if status >= 400:
        payload = json.loads(body or "{}")
        if payload.get("error") and not payload.get("error_description"):
            payload["error_description"] = describe(payload["error"])
            body = json.dumps(payload)
        if status == 401:
            headers = {**headers, "WWW-Authenticate": f'Basic realm="{realm}"'}
    # oauthlib's bodies are JSON; an error raised past its grant handlers brings no Content-Type.
    response = HttpResponse(content=body or "", status=status, content_type="application/json")
    for name, value in headers.items():
        response[name] = value
    return response

"""RFC 8693 token exchange for tool authors: a token for another API, acting for the current caller.

A tool that calls a downstream API on the user's behalf must not forward the caller's token (its audience
is this MCP server, RFC 8707/9068: the downstream API must refuse it). It asks the authorization server
to exchange it instead::

    @tool(scopes=["mcp:read"])
    def my_files(ctx) -> dict:
        token = ctx.exchange_token(audience="https://files.example.com/", scope="files:read")
        headers = {"Authorization": token.authorization}
        return httpx.get("https://files.example.com/mine", headers=headers).json()

The MCP server authenticates with its own confidential client (``TOKEN_EXCHANGE_CLIENT_ID`` and
``TOKEN_EXCHANGE_CLIENT_SECRET``) at ``TOKEN_EXCHANGE_ENDPOINT`` (default: the issuer's
``/oauth/token/``). The authorization server decides everything else: that client must be allowed the
audience, the scopes never widen beyond the caller's token, the new token lives no longer than it and
names the MCP server's client in its ``act`` claim. Only tokens of this project's issuer can be
exchanged there.

Each call is one POST (nothing is cached), within the tool call's deadline. A refusal or an unreachable
issuer raises ``TokenExchangeFailed``, a ``ToolError``: the call ends with ``isError`` and the reason
unless the tool catches it. Tokens are never logged nor shown in errors.
"""

from __future__ import annotations

import base64
import json
import math
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from . import conf
from .definitions import ToolError

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
MAX_RESPONSE_BYTES = 64 * 1024


class TokenExchangeFailed(ToolError):
    """The authorization server refused the exchange (``error`` is its RFC 6749 §5.2 code) or could not be
    asked (``temporarily_unavailable``); the message says why, without any token."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"Token exchange refused ({error}): {description}")
        self.error = error
        self.description = description


@dataclass(frozen=True)
class ExchangedToken:
    """The new access token and what the authorization server said about it."""

    access_token: str = field(repr=False)
    token_type: str
    expires_in: int
    scopes: frozenset[str]

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value that presents it (RFC 6750 §2.1)."""
        return f"{self.token_type} {self.access_token}"


def endpoint() -> str:
    return conf.get("TOKEN_EXCHANGE_ENDPOINT") or conf.get("ISSUER") + "/oauth/token/"


def _client_credentials() -> tuple[str, str]:
    client_id, secret = conf.get("TOKEN_EXCHANGE_CLIENT_ID"), conf.get("TOKEN_EXCHANGE_CLIENT_SECRET")
    if not client_id or not secret:
        raise TokenExchangeFailed(
            "server_error", "this MCP server has no client credentials for token exchange configured."
        )
    return client_id, secret


def _form(subject_token: str, audience: str | None, resource: str | None, scope) -> bytes:
    if not subject_token:
        raise TokenExchangeFailed("invalid_request", "this call came without an access token to exchange.")
    if not audience and not resource:
        raise TokenExchangeFailed("invalid_request", "name the API with audience or resource.")
    body = {"grant_type": GRANT_TYPE, "subject_token": subject_token, "subject_token_type": ACCESS_TOKEN_TYPE}
    body.update({name: value for name, value in (("audience", audience), ("resource", resource)) if value})
    if scope:
        body["scope"] = scope if isinstance(scope, str) else " ".join(scope)
    return urlencode(body).encode()


def _post(body: bytes, timeout: float) -> tuple[int, dict]:
    """POST the form with HTTP Basic client authentication (RFC 6749 §2.3.1); the status and JSON body."""
    client_id, secret = _client_credentials()
    basic = base64.b64encode(f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()).decode()
    headers = {
        "Authorization": f"Basic {basic}",
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    request = urllib.request.Request(endpoint(), data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (a configured URL)
            return response.status, _object(response.read(MAX_RESPONSE_BYTES))
    except urllib.error.HTTPError as exc:
        with exc:
            try:
                return exc.code, _object(exc.read(MAX_RESPONSE_BYTES))
            except ValueError:
                return exc.code, {}
    except (OSError, ValueError) as exc:  # unreachable, timed out, not JSON
        description = f"the authorization server did not answer ({type(exc).__name__})."
        raise TokenExchangeFailed("temporarily_unavailable", description) from None


def _object(raw: bytes) -> dict:
    """A JSON object (anything else: empty); ``ValueError`` for what is not JSON."""
    decoded = json.loads(raw)
    return decoded if isinstance(decoded, dict) else {}


def exchange(
    subject_token: str | None,
    *,
    audience: str | None = None,
    resource: str | None = None,
    scope: str | list[str] | None = None,
    timeout: float | None = None,
) -> ExchangedToken:
    """Exchange ``subject_token`` for an access token for ``audience``/``resource`` (RFC 8693 §2).

    ``timeout``: seconds left (the tool call's); at most ``TOKEN_EXCHANGE_TIMEOUT``.
    """
    body = _form(subject_token or "", audience, resource, scope)
    limit = conf.get("TOKEN_EXCHANGE_TIMEOUT")
    wait = limit if timeout is None or math.isinf(timeout) else min(limit, timeout)
    if wait <= 0:
        raise TokenExchangeFailed("temporarily_unavailable", "no time was left in this call.")
    status, answer = _post(body, wait)
    if status != 200 or not isinstance(answer.get("access_token"), str):
        error = answer.get("error") if isinstance(answer.get("error"), str) else f"http_{status}"
        description = answer.get("error_description")
        raise TokenExchangeFailed(error, description if isinstance(description, str) else "no description.")
    return ExchangedToken(
        access_token=answer["access_token"],
        token_type=str(answer.get("token_type") or "Bearer"),
        expires_in=answer["expires_in"] if isinstance(answer.get("expires_in"), int) else 0,
        scopes=frozenset(str(answer.get("scope") or "").split()),
    )

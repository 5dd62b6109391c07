"""The only code that SIGNS access tokens: RFC 9068 JWTs, generated for DOT and for ``issue_token``."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from oauthlib.common import Request
from oauthlib.oauth2 import BearerToken
from oauthlib.oauth2.rfc6749.errors import InvalidScopeError
from oauthlib.oauth2.rfc6749.tokens import random_token_generator

from . import conf, grants, keys, scopes


def claims_for(request) -> dict[str, Any]:
    """The RFC 9068 claim set for the token oauthlib is about to issue."""
    now = int(time.time())
    client_id = request.client.client_id
    audience = list(getattr(request, "resource", None) or [conf.get("DEFAULT_RESOURCE")])
    user = request.user if grants.is_user_delegated(request.grant_type) else None
    claims: dict[str, Any] = {
        "iss": conf.get("ISSUER"),
        "sub": str(user.pk) if user is not None else client_id,
        "aud": audience[0] if len(audience) == 1 else audience,
        "client_id": client_id,
        "scope": " ".join(request.scopes or []),
        "iat": now,
        "exp": now + int(request.expires_in),
        "jti": uuid.uuid4().hex,
    }
    if user is not None:
        claims["username"] = user.get_username()
        claims["roles"] = user.role_names()
    else:
        claims["roles"] = []
    exchanged = getattr(request, "exchanged_subject", None)
    if exchanged is not None:  # RFC 8693 §4.1: an exchanged token names the client acting for the user
        claims["act"] = exchanged.actor_claim(client_id)
    jkt = getattr(request, "dpop_jkt", None)
    if jkt is not None:  # RFC 9449 §6.1: bound to the key of the token request's DPoP proof
        claims["cnf"] = {"jkt": jkt}
    return claims


def sign(claims: dict[str, Any]) -> str:
    kid, private_key = keys.current_signing_key()
    return jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})


def generate_access_token(request) -> str:
    """DOT's ACCESS_TOKEN_GENERATOR: ``callable(request) -> str``."""
    return sign(claims_for(request))


def issue_for_user(user, application, requested: list[str], lifetime: int) -> str:
    """Mint and record an access token outside an HTTP request, through the token endpoint's code path.

    Scopes are narrowed exactly as at the token endpoint; the token is saved (hashed) by the same
    validator, so it can be listed and revoked like any other.
    """
    from oauth2_provider.settings import oauth2_settings

    validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
    request = Request("urn:manage:issue_token", http_method="POST")
    request.client, request.client_id, request.user = application, application.client_id, user
    request.grant_type = "password"
    request.scopes = scopes.effective_scopes(requested, application, user)
    if not request.scopes:
        raise InvalidScopeError(description="None of the requested scopes may be granted.", request=request)
    request.resource = [conf.get("DEFAULT_RESOURCE")]
    bearer = BearerToken(validator, generate_access_token, lifetime, random_token_generator)
    token = bearer.create_token(request, refresh_token=False)
    validator.save_bearer_token(token, request)
    return token["access_token"]

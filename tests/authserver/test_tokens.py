"""RFC 9068 JWT access tokens: header, claims, lifetime, opaque refresh tokens, hashed storage."""

from __future__ import annotations

import hashlib

import jwt
import pytest
from django.conf import settings
from oauth2_provider.models import get_access_token_model

from authserver import keys, tokens


def test_header_is_at_jwt_rs256_with_a_published_thumbprint_kid(world, cc_token, client):
    header = jwt.get_unverified_header(cc_token()["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    published = {k["kid"]: k for k in client.get("/.well-known/jwks.json").json()["keys"]}
    assert header["kid"] in published
    assert header["kid"] == keys.thumbprint(published[header["kid"]])


def test_client_credentials_claims(world, cc_token, decode):
    body = cc_token(scope="mcp:read mcp:tools")
    claims = decode(body["access_token"])
    service = world.clients["service"]
    assert claims["iss"] == settings.OAUTH_ISSUER
    assert not claims["iss"].endswith("/")
    assert claims["sub"] == service.client_id
    assert claims["client_id"] == service.client_id
    assert claims["aud"] == settings.MCP_RESOURCE_URL
    assert claims["scope"] == "mcp:read mcp:tools"
    assert claims["roles"] == []
    assert "username" not in claims
    assert claims["exp"] - claims["iat"] == settings.ACCESS_TOKEN_LIFETIME
    assert claims["jti"]


def test_user_grant_claims(world, password_token, decode, make_role):
    alice = world.users["alice"]
    alice.roles.add(world.roles["prompter"])
    claims = decode(password_token("alice", scope="mcp:read mcp:prompts")["access_token"])
    assert claims["sub"] == str(alice.pk)
    assert claims["username"] == "alice"
    assert claims["client_id"] == world.clients["cli"].client_id
    assert claims["roles"] == ["prompter", "writer"]
    assert claims["scope"] == "mcp:read mcp:prompts"
    assert claims["exp"] - claims["iat"] == settings.ACCESS_TOKEN_LIFETIME


def test_refreshed_token_keeps_the_user_as_subject(world, password_token, post_token, decode):
    issued = password_token("alice", scope="mcp:read")
    response = post_token(
        {
            "grant_type": "refresh_token",
            "refresh_token": issued["refresh_token"],
            "client_id": world.clients["cli"].client_id,
        }
    )
    claims = decode(response.json()["access_token"])
    assert claims["sub"] == str(world.users["alice"].pk)
    assert claims["username"] == "alice"
    assert claims["roles"] == ["writer"]


def test_jti_is_unique_per_token(world, cc_token, decode):
    ids = {decode(cc_token()["access_token"])["jti"] for _ in range(3)}
    assert len(ids) == 3


def test_expiry_in_the_database_matches_the_jwt(world, cc_token, decode):
    body = cc_token()
    claims = decode(body["access_token"])
    row = get_access_token_model().objects.get(
        token_checksum=hashlib.sha256(body["access_token"].encode()).hexdigest()
    )
    assert abs(row.expires.timestamp() - claims["exp"]) <= 2


def test_refresh_tokens_are_opaque(world, password_token):
    refresh = password_token("alice")["refresh_token"]
    with pytest.raises(jwt.DecodeError):
        jwt.get_unverified_header(refresh)
    assert len(refresh) >= 30


def test_database_holds_only_checksums(world, cc_token, password_token):
    issued = [cc_token()["access_token"], password_token("alice")["access_token"]]
    rows = get_access_token_model().objects.all()
    assert {row.token for row in rows} == {""}
    assert {row.token_checksum for row in rows} == {hashlib.sha256(t.encode()).hexdigest() for t in issued}


def test_token_signed_by_a_foreign_key_does_not_verify(world, cc_token, decode):
    from cryptography.hazmat.primitives.asymmetric import rsa

    claims = jwt.decode(cc_token()["access_token"], options={"verify_signature": False})
    header = jwt.get_unverified_header(cc_token()["access_token"])
    forged = jwt.encode(
        claims,
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": header["kid"], "typ": "at+jwt"},
    )
    with pytest.raises(jwt.InvalidSignatureError):
        decode(forged)


# --- issue_for_user: the command's code path ---


def test_issue_for_user_narrows_and_records(world, decode):
    web = world.clients["backend"].application
    token = tokens.issue_for_user(world.users["guest"], web, ["mcp:read", "mcp:tools"], 120)
    claims = decode(token)
    assert claims["scope"] == "mcp:read"
    assert claims["sub"] == str(world.users["guest"].pk)
    assert claims["exp"] - claims["iat"] == 120
    row = get_access_token_model().objects.get(token_checksum=hashlib.sha256(token.encode()).hexdigest())
    assert row.token == ""
    assert row.user == world.users["guest"]
    assert row.scope == "mcp:read"


def test_issue_for_user_refuses_when_nothing_is_left(world):
    from oauthlib.oauth2.rfc6749.errors import InvalidScopeError

    with pytest.raises(InvalidScopeError):
        tokens.issue_for_user(world.users["nobody"], world.clients["backend"].application, ["mcp:read"], 60)
    assert not get_access_token_model().objects.exists()

"""Issued tokens over real HTTP: RFC 9068 JWTs verified with the published JWKS, introspection,
revocation, metadata, ``manage.py issue_token`` and signing-key rotation."""

from __future__ import annotations

import httpx
import jwt
import pytest

from . import flows

pytestmark = pytest.mark.usefixtures("no_server_errors")
INTROSPECT, REVOKE = "/oauth/introspect/", "/oauth/revoke/"


def verify(token: str, jwks, live_server) -> dict:
    """Verify an access token as a resource server would: JWKS key by kid, RS256, iss, aud, typ."""
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256"
    key = jwks()[header["kid"]]
    return jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        issuer=live_server.url,
        audience=live_server.mcp_url,
        options={"require": ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"]},
    )


def introspect(http: httpx.Client, token: str, **extra) -> dict:
    response = http.post(INTROSPECT, data={"token": token, **extra}, headers=flows.basic(*flows.SERVICE))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def user_tokens(http):
    response = flows.password_grant(http, "alice", scope="mcp:read mcp:tools")
    assert response.status_code == 200, response.text
    return response.json()


def test_metadata_names_one_issuer_and_every_endpoint(http, live_server):
    metadata = http.get("/.well-known/oauth-authorization-server").json()
    assert metadata["issuer"] == live_server.url
    for name, path in [
        ("token_endpoint", flows.TOKEN),
        ("authorization_endpoint", flows.AUTHORIZE),
        ("revocation_endpoint", REVOKE),
        ("introspection_endpoint", INTROSPECT),
        ("jwks_uri", "/.well-known/jwks.json"),
    ]:
        assert metadata[name] == live_server.url + path, name
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert {"mcp:read", "mcp:tools", "mcp:prompts"} <= set(metadata["scopes_supported"])
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert "none" in metadata["token_endpoint_auth_methods_supported"]


def test_client_credentials_jwt_verifies_with_the_jwks(http, jwks, live_server):
    token = flows.client_credentials(http, scope="mcp:read").json()["access_token"]
    claims = verify(token, jwks, live_server)
    assert claims["sub"] == claims["client_id"] == "demo-service"
    assert claims["scope"] == "mcp:read"
    assert claims["exp"] - claims["iat"] == 900
    assert "username" not in claims


def test_user_jwt_carries_user_claims(jwks, live_server, user_tokens):
    claims = verify(user_tokens["access_token"], jwks, live_server)
    assert claims["username"] == "alice"
    assert claims["roles"] == ["user"]
    assert claims["client_id"] == flows.CLI_CLIENT
    assert claims["sub"] != "alice" and claims["sub"]  # the user's id, not the name
    assert set(claims["scope"].split()) == {"mcp:read", "mcp:tools"}


def test_jti_is_unique_per_token(http, jwks, live_server):
    ids = {
        verify(flows.client_credentials(http).json()["access_token"], jwks, live_server)["jti"]
        for _ in range(3)
    }
    assert len(ids) == 3


def test_the_requested_resource_becomes_the_audience(http, jwks, live_server):
    response = flows.client_credentials(http, resource=live_server.mcp_url)
    assert response.status_code == 200, response.text
    assert verify(response.json()["access_token"], jwks, live_server)["aud"] == live_server.mcp_url


def test_a_tampered_jwt_fails_verification(http, jwks, live_server):
    token = flows.client_credentials(http).json()["access_token"]
    header, payload, signature = token.split(".")
    forged = ".".join([header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
    with pytest.raises(jwt.InvalidSignatureError):
        verify(forged, jwks, live_server)


def test_introspection_of_a_live_user_token(http, live_server, user_tokens):
    data = introspect(http, user_tokens["access_token"])
    assert data["active"] is True
    assert data["username"] == "alice"
    assert data["client_id"] == flows.CLI_CLIENT
    assert set(data["scope"].split()) == {"mcp:read", "mcp:tools"}
    assert data["iss"] == live_server.url
    assert data["token_type"] == "Bearer"
    assert data["aud"] == [live_server.mcp_url]
    assert data["exp"] > data["iat"]
    assert data["sub"]


def test_introspection_of_unknown_tokens_is_inactive(http):
    assert introspect(http, "not-a-token") == {"active": False}


def test_introspection_requires_client_authentication(http, user_tokens):
    response = http.post(INTROSPECT, data={"token": user_tokens["access_token"]})
    assert response.status_code in {401, 403}
    response = http.post(
        INTROSPECT, data={"token": user_tokens["access_token"]}, headers=flows.basic("demo-service", "wrong")
    )
    assert response.status_code in {401, 403}


def test_revoking_an_access_token(http, user_tokens):
    response = http.post(REVOKE, data={"token": user_tokens["access_token"], "client_id": flows.CLI_CLIENT})
    assert response.status_code == 200, response.text
    assert introspect(http, user_tokens["access_token"]) == {"active": False}


def test_revoking_a_refresh_token_ends_refreshing(http, user_tokens):
    response = http.post(
        REVOKE,
        data={
            "token": user_tokens["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": flows.CLI_CLIENT,
        },
    )
    assert response.status_code == 200, response.text
    refreshed = flows.refresh(http, user_tokens["refresh_token"], client_id=flows.CLI_CLIENT)
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


def test_revoking_with_a_confidential_client_and_unknown_tokens(http):
    token = flows.client_credentials(http).json()["access_token"]
    assert http.post(REVOKE, data={"token": token}, headers=flows.basic(*flows.SERVICE)).status_code == 200
    assert introspect(http, token) == {"active": False}
    # RFC 7009 §2.2: an unknown token is not an error.
    assert (
        http.post(REVOKE, data={"token": "unknown"}, headers=flows.basic(*flows.SERVICE)).status_code == 200
    )


def test_another_client_cannot_revoke_a_token(http, user_tokens):
    response = http.post(
        REVOKE, data={"token": user_tokens["access_token"]}, headers=flows.basic(*flows.SERVICE)
    )
    assert response.status_code in {200, 400, 401, 403}
    assert introspect(http, user_tokens["access_token"])["active"] is True


def test_issue_token_command_mints_a_recorded_jwt(http, jwks, live_server):
    token = live_server.issue_token("alice", ["mcp:read", "mcp:tools"], lifetime=120)
    claims = verify(token, jwks, live_server)
    assert claims["username"] == "alice" and claims["exp"] - claims["iat"] == 120
    assert introspect(http, token)["active"] is True
    assert http.post(REVOKE, data={"token": token}, headers=flows.basic(*flows.SERVICE)).status_code == 200


def test_issue_token_command_refuses_bad_input(live_server):
    for args in (
        ["--username", "nobody", "--scopes", "mcp:read"],
        ["--username", "alice", "--scopes", "no:such"],
    ):
        result = live_server.manage("issue_token", *args, check=False)
        assert result.returncode != 0 and result.stdout.strip() == ""
        assert "CommandError" in result.stderr or "Error" in result.stderr


@pytest.mark.e2e_last
def test_key_rotation_keeps_earlier_tokens_verifiable(http, jwks, live_server):
    before = flows.client_credentials(http).json()["access_token"]
    old_kid = jwt.get_unverified_header(before)["kid"]
    new_kid = live_server.manage("rotate_signing_key").stdout.strip()
    assert new_kid and new_kid != old_kid
    # Another process rotated: every worker signs with the new key from its next token on (the
    # ``signing-keys`` change feed), without waiting for SIGNING_KEY_RECHECK_SECONDS or a restart.
    # A connection of its own per request, so that every worker answers some of them.
    signed = []
    for _ in range(8):
        with httpx.Client(base_url=live_server.url, timeout=30) as fresh:
            signed.append(flows.client_credentials(fresh).json()["access_token"])
    assert {jwt.get_unverified_header(token)["kid"] for token in signed} == {new_kid}
    after = signed[-1]
    published = {key.key_id for key in jwks().keys}
    assert {old_kid, new_kid} <= published
    verify(before, jwks, live_server)
    verify(after, jwks, live_server)


def test_revoking_a_refresh_token_also_ends_its_access_token(http, user_tokens):
    """RFC 7009 §2.1: revoking a refresh token SHOULD invalidate access tokens of the same grant."""
    data = {"token": user_tokens["refresh_token"], "client_id": flows.CLI_CLIENT}
    assert http.post(REVOKE, data=data).status_code == 200
    assert introspect(http, user_tokens["access_token"]) == {"active": False}


def test_refresh_refuses_a_foreign_resource(http, user_tokens):
    response = flows.refresh(
        http, user_tokens["refresh_token"], client_id=flows.CLI_CLIENT, resource="https://elsewhere.example/mcp"
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_target", response.text

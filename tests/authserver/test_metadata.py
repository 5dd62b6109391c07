"""RFC 8414 authorization server metadata: one issuer string, the real endpoints, scopes from the database."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

METADATA_URL = "/.well-known/oauth-authorization-server"


def metadata(client) -> dict:
    response = client.get(METADATA_URL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def test_issuer_is_identical_to_the_jwt_iss(world, client, cc_token, decode):
    data = metadata(client)
    assert data["issuer"] == settings.OAUTH_ISSUER
    assert not data["issuer"].endswith("/")
    assert decode(cc_token()["access_token"])["iss"] == data["issuer"]


def test_issuer_matches_the_authorization_response_iss(world, client, code_flow, authorize):
    from .conftest import pkce_pair, redirect_params

    _, challenge = pkce_pair()
    response = authorize(world.users["alice"], world.clients["web"].client_id, "mcp:read", challenge)
    assert redirect_params(response)["iss"] == metadata(client)["issuer"]


def test_supported_values(world, client):
    data = metadata(client)
    assert data["response_types_supported"] == ["code"]
    assert data["code_challenge_methods_supported"] == ["S256"]
    assert "none" in data["token_endpoint_auth_methods_supported"]
    assert {"client_secret_basic", "client_secret_post"} <= set(data["token_endpoint_auth_methods_supported"])
    assert {"authorization_code", "client_credentials", "refresh_token", "password"} <= set(
        data["grant_types_supported"]
    )
    assert "implicit" not in data["grant_types_supported"]
    assert data["authorization_response_iss_parameter_supported"] is True


def test_endpoints_are_absolute_urls_under_the_issuer(world, client):
    data = metadata(client)
    paths = {
        "authorization_endpoint": "/oauth/authorize/",
        "token_endpoint": "/oauth/token/",
        "revocation_endpoint": "/oauth/revoke/",
        "introspection_endpoint": "/oauth/introspect/",
        "jwks_uri": "/.well-known/jwks.json",
    }
    for field, path in paths.items():
        assert data[field] == settings.OAUTH_ISSUER + path, field


def test_jwks_uri_serves_the_keys_that_sign(world, client, cc_token):
    import jwt

    kid = jwt.get_unverified_header(cc_token()["access_token"])["kid"]
    jwks_path = urlsplit(metadata(client)["jwks_uri"]).path
    assert kid in {k["kid"] for k in client.get(jwks_path).json()["keys"]}


def test_jwks_answers_head_like_get(db, client):
    response = client.head("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=300"


def test_scopes_supported_come_from_the_database(world, client, make_scope):
    # The world's scopes, and the management API's, which a migration makes.
    assert metadata(client)["scopes_supported"] == [
        "admin:read", "admin:write", "mcp:admin", "mcp:prompts", "mcp:read", "mcp:tools"
    ]
    make_scope("mcp:new")
    assert "mcp:new" in metadata(client)["scopes_supported"]


def test_introspection_advertises_only_secret_methods(world, client):
    data = metadata(client)
    assert "none" not in data["introspection_endpoint_auth_methods_supported"]
    assert "none" in data["revocation_endpoint_auth_methods_supported"]


def test_metadata_is_public_and_cacheable(world, client):
    response = client.get(METADATA_URL)
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "max-age" in response["Cache-Control"]


def test_metadata_follows_the_issuer_setting(world, client, settings):
    issuer = "https://auth.example.test"
    settings.AUTHSERVER = {**settings.AUTHSERVER, "ISSUER": issuer}
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": issuer}
    data = metadata(client)
    assert data["issuer"] == issuer
    assert data["jwks_uri"] == issuer + "/.well-known/jwks.json"
    assert data["token_endpoint"] == issuer + "/oauth/token/"


def test_private_key_jwt_is_advertised_with_its_algorithms(db, client):
    data = metadata(client)
    for endpoint in ("token", "introspection", "revocation"):
        assert "private_key_jwt" in data[f"{endpoint}_endpoint_auth_methods_supported"]
        algorithms = data[f"{endpoint}_endpoint_auth_signing_alg_values_supported"]
        assert "RS256" in algorithms and "ES256" in algorithms
        assert "none" not in algorithms and not any(a.startswith("HS") for a in algorithms)

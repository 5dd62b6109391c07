"""One smoke test over the demo data: every grant docs/tokens.md shows issues a token, as the page
shows it (client credentials, password, authorization code + PKCE, refresh)."""

from __future__ import annotations

import pytest

from .conftest import REDIRECT_URI, pkce_pair, redirect_params

pytestmark = pytest.mark.django_db

ALL = {"mcp:read", "mcp:tools", "mcp:prompts"}


def issued(response, scopes: set[str]) -> dict:
    """The token response, checked for what every grant's answer must carry."""
    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["token_type"] == "Bearer" and body["access_token"]
    assert set(body["scope"].split()) == scopes
    return body


def test_client_credentials(demo, post_token):
    issued(post_token({"grant_type": "client_credentials"}, ("demo-service", "demo-service-secret")), ALL)


def test_password_then_refresh(demo, post_token, decode):
    first = issued(
        post_token(
            {
                "grant_type": "password",
                "client_id": "demo-cli",
                "username": "alice",
                "password": "alice-password",
                "scope": "mcp:read mcp:tools",
            }
        ),
        {"mcp:read", "mcp:tools"},
    )
    assert decode(first["access_token"])["username"] == "alice"
    again = {"grant_type": "refresh_token", "client_id": "demo-cli", "refresh_token": first["refresh_token"]}
    refreshed = issued(post_token(again), {"mcp:read", "mcp:tools"})
    assert refreshed["refresh_token"] != first["refresh_token"]  # it rotates
    assert decode(refreshed["access_token"])["username"] == "alice"


def test_authorization_code_with_pkce(demo, authorize, post_token, decode):
    from authserver.models import User

    verifier, challenge = pkce_pair()
    alice = User.objects.get(username="alice")
    params = redirect_params(authorize(alice, "demo-web", "mcp:read mcp:tools", challenge))
    exchange = {
        "grant_type": "authorization_code",
        "client_id": "demo-web",
        "code": params["code"],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    body = issued(post_token(exchange), {"mcp:read", "mcp:tools"})
    assert decode(body["access_token"])["username"] == "alice"

"""Authorization code + PKCE through the real login and consent pages, then refresh rotation."""

from __future__ import annotations

import time

import pytest

from . import flows

pytestmark = pytest.mark.usefixtures("no_server_errors")
GRACE_SECONDS = 5  # OAUTH_REFRESH_GRACE_SECONDS's default, which the live server runs with


@pytest.fixture
def tokens(http):
    """A fresh access and refresh token for alice through the whole browser flow."""
    grant = flows.authorize(http, "alice", scope="mcp:read mcp:tools")
    response = flows.exchange(http, grant.code, grant.verifier)
    assert response.status_code == 200, response.text
    return response.json()


def test_code_flow_with_pkce(http, live_server):
    grant = flows.authorize(http, "alice", scope="mcp:read mcp:tools")
    assert grant.location.startswith(flows.WEB_REDIRECT + "?")
    assert grant.params["iss"] == live_server.url  # RFC 9207, byte-identical to the issuer
    assert "Demo web app" in grant.consent_page
    assert "127.0.0.1:8765" in grant.consent_page  # the redirect host is shown
    assert grant.scopes_shown == ["mcp:read", "mcp:tools"]
    assert "list the tools and prompts your other permissions allow" in grant.consent_page  # descriptions

    response = flows.exchange(http, grant.code, grant.verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert set(body["scope"].split()) == {"mcp:read", "mcp:tools"}
    assert body["refresh_token"] and body["access_token"].count(".") == 2


def test_consent_can_untick_a_scope(http):
    grant = flows.authorize(http, "alice", scope="mcp:read mcp:tools", keep=["mcp:read"])
    body = flows.exchange(http, grant.code, grant.verifier).json()
    assert body["scope"] == "mcp:read"


def test_consent_page_narrows_to_the_users_roles(http):
    grant = flows.authorize(http, "guest", scope="mcp:read mcp:tools")
    assert grant.scopes_shown == ["mcp:read"]
    assert flows.exchange(http, grant.code, grant.verifier).json()["scope"] == "mcp:read"


def test_deny_returns_access_denied_to_the_client(http, live_server):
    grant = flows.authorize(http, "bob", allow=False)
    assert grant.params["error"] == "access_denied"
    assert grant.params["iss"] == live_server.url
    assert "code" not in grant.params


def test_a_code_is_single_use(http):
    grant = flows.authorize(http, "alice")
    assert flows.exchange(http, grant.code, grant.verifier).status_code == 200
    again = flows.exchange(http, grant.code, grant.verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_wrong_verifier_is_refused(http):
    grant = flows.authorize(http, "alice")
    response = flows.exchange(http, grant.code, flows.pkce_pair()[0])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_wrong_redirect_uri_at_the_token_endpoint_is_refused(http):
    grant = flows.authorize(http, "alice")
    response = flows.exchange(http, grant.code, grant.verifier, redirect_uri="http://127.0.0.1:8765/other")
    assert response.status_code == 400 and response.json()["error"] in {"invalid_grant", "invalid_request"}


@pytest.mark.parametrize("method", ["plain", None], ids=["plain", "missing"])
def test_plain_or_missing_pkce_is_refused(http, method):
    verifier, challenge = flows.pkce_pair()
    extra = {"code_challenge": None, "code_challenge_method": None} if method is None else {"method": "plain"}
    url = flows.authorize_url(verifier if method else challenge, "mcp:read", "st", **extra)
    flows.login(http, "alice", "alice-password", url)
    response = http.get(url)
    # Either an error redirect to the (registered) client or an error page: never a consent page.
    if response.status_code == 302:
        assert response.headers["location"].startswith(flows.WEB_REDIRECT)
        assert "error=invalid_request" in response.headers["location"]
    else:
        assert response.status_code == 400, response.text[:500]
        assert 'id="authorizationForm"' not in response.text


def test_an_unregistered_redirect_uri_is_never_redirected_to(http):
    _, challenge = flows.pkce_pair()
    url = flows.authorize_url(challenge, "mcp:read", "st", redirect_uri="http://127.0.0.1:9999/evil")
    flows.login(http, "alice", "alice-password", url)
    response = http.get(url)
    assert response.status_code == 400, (response.status_code, response.headers.get("location"))
    assert 'id="authorizationForm"' not in response.text


def test_a_foreign_resource_is_refused_at_authorize(http):
    _, challenge = flows.pkce_pair()
    url = flows.authorize_url(challenge, "mcp:read", "st", resource="https://elsewhere.example/mcp")
    flows.login(http, "alice", "alice-password", url)
    response = http.get(url)
    assert response.status_code in {302, 400}
    if response.status_code == 302:
        assert "error=invalid_target" in response.headers["location"]


def test_login_page_refuses_a_wrong_password(http):
    response = flows.login(http, "alice", "wrong-password", "/accounts/")
    assert response.status_code == 200
    assert "didn&#x27;t match" in response.text or "didn't match" in response.text


# --- refresh tokens ---


def test_refresh_rotates_the_refresh_token(http, tokens):
    response = flows.refresh(http, tokens["refresh_token"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["refresh_token"] != tokens["refresh_token"]
    assert body["access_token"] != tokens["access_token"]
    assert set(body["scope"].split()) == {"mcp:read", "mcp:tools"}


def test_refresh_may_narrow_but_never_widen(http, tokens):
    narrowed = flows.refresh(http, tokens["refresh_token"], scope="mcp:read")
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scope"] == "mcp:read"
    widened = flows.refresh(http, narrowed.json()["refresh_token"], scope="mcp:read mcp:prompts")
    assert widened.status_code == 400 and widened.json()["error"] == "invalid_scope", widened.text


def test_reusing_a_rotated_refresh_token_after_the_grace_window_revokes_the_family(http, tokens, live_server):
    first = flows.refresh(http, tokens["refresh_token"])
    assert first.status_code == 200
    successor = first.json()
    # Within the window the same request gets the same pair (tests/e2e/test_refresh_grace.py) ...
    again = flows.refresh(http, tokens["refresh_token"])
    assert again.status_code == 200 and again.json()["refresh_token"] == successor["refresh_token"]
    time.sleep(GRACE_SECONDS + 0.5)

    # ... after it, a replay is reuse.
    replay = flows.refresh(http, tokens["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"

    # The whole family is gone: the successor refresh token and its access token too.
    assert flows.refresh(http, successor["refresh_token"]).json()["error"] == "invalid_grant"
    introspection = http.post(
        "/oauth/introspect/", data={"token": successor["access_token"]}, headers=flows.basic(*flows.SERVICE)
    )
    assert introspection.json() == {"active": False}

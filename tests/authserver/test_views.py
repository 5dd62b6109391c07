"""The sign-in, account and consent pages beyond the OAuth flows themselves."""

from __future__ import annotations

from urllib.parse import urlsplit

from .conftest import pkce_pair


def test_login_page_renders_with_autocomplete_hints(db, client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'autocomplete="username"' in html
    assert 'autocomplete="current-password"' in html


def test_login_does_not_redirect_off_site(world, client):
    response = client.post(
        "/accounts/login/",
        {"username": "alice", "password": "alice-password", "next": "https://evil.example.test/steal"},
    )
    assert response.status_code == 302
    assert urlsplit(response["Location"]).netloc in ("", "testserver")


def test_account_page_needs_sign_in(db, client):
    response = client.get("/accounts/")
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/accounts/login/"


def test_account_page_lists_roles_and_scopes(world, client):
    client.force_login(world.users["alice"])
    html = client.get("/accounts/").content.decode()
    assert "alice" in html and "writer" in html and "mcp:tools" in html


def test_account_page_for_a_user_without_roles(world, client):
    client.force_login(world.users["nobody"])
    assert "No roles" in client.get("/accounts/").content.decode()


def test_logout(world, client):
    client.force_login(world.users["alice"])
    assert client.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_consent_page_warns_about_self_registered_clients(world, client, authorize):
    application = world.clients["web"].application
    application.registration_source = "dcr"
    application.save()
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    page = authorize.consent_page(application.client_id, "mcp:read", challenge)
    assert page.status_code == 200
    assert "registered itself" in page.content.decode()


def test_consent_page_has_no_warning_for_admin_made_clients(world, client, authorize):
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    page = authorize.consent_page(world.clients["web"].client_id, "mcp:read", challenge)
    assert "registered itself" not in page.content.decode()


def test_consent_page_cannot_be_framed(world, client, authorize):
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    page = authorize.consent_page(world.clients["web"].client_id, "mcp:read", challenge)
    assert page["X-Frame-Options"] == "DENY"

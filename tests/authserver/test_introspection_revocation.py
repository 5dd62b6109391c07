"""RFC 7662 introspection and RFC 7009 revocation, including the shared deny-list."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

import sharedstate
from authserver import revoking

from .conftest import FORM, basic, rotated_long_ago

INTROSPECT_URL = "/oauth/introspect/"
REVOKE_URL = "/oauth/revoke/"


def checksum(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def deny_key(token: str) -> str:
    return settings.TOKEN_REVOCATION_PREFIX + checksum(token)


@pytest.fixture
def introspect(world, client):
    service = world.clients["service"]

    def run(token: str, auth=(service.client_id, service.client_secret)):
        extra = {"HTTP_AUTHORIZATION": basic(*auth)} if auth else {}
        return client.post(INTROSPECT_URL, urlencode({"token": token}), content_type=FORM, **extra)

    return run


@pytest.fixture
def revoke(client):
    def run(data: dict, auth=None):
        extra = {"HTTP_AUTHORIZATION": basic(*auth)} if auth else {}
        return client.post(REVOKE_URL, urlencode(data), content_type=FORM, **extra)

    return run


# --- introspection ---


def test_introspect_a_user_token(world, password_token, introspect, decode):
    issued = password_token("alice", scope="mcp:read mcp:tools")
    claims = decode(issued["access_token"])
    response = introspect(issued["access_token"])
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["active"] is True
    assert data["sub"] == str(world.users["alice"].pk) == claims["sub"]
    assert data["scope"] == "mcp:read mcp:tools"
    assert data["client_id"] == world.clients["cli"].client_id
    assert data["username"] == "alice"
    assert data["iss"] == settings.OAUTH_ISSUER == claims["iss"]
    assert data["token_type"] == "Bearer"
    assert settings.MCP_RESOURCE_URL in data["aud"]
    assert abs(data["exp"] - claims["exp"]) <= 2
    assert abs(data["iat"] - claims["iat"]) <= 2
    assert data["roles"] == ["writer"]


def test_introspect_a_client_credentials_token(world, cc_token, introspect):
    data = introspect(cc_token()["access_token"]).json()
    assert data["active"] is True
    assert data["sub"] == world.clients["service"].client_id
    assert "username" not in data


def test_introspect_unknown_token_is_inactive(world, introspect):
    response = introspect("not-a-token")
    assert response.status_code == 200
    assert response.json() == {"active": False}


def test_introspect_expired_token_is_inactive(world, cc_token, introspect):
    token = cc_token()["access_token"]
    get_access_token_model().objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert introspect(token).json() == {"active": False}


def test_introspect_a_refresh_token_is_inactive(world, password_token, introspect):
    assert introspect(password_token("alice")["refresh_token"]).json() == {"active": False}


def assert_invalid_client(response):
    """RFC 7662 §2.3: failed client authentication is answered as in RFC 6749 §5.2."""
    assert response.status_code == 401, (response.status_code, response.content)
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")
    assert "active" not in response.content.decode()


def test_introspection_needs_client_authentication(world, cc_token, introspect):
    assert_invalid_client(introspect(cc_token()["access_token"], auth=None))


def test_introspection_refuses_a_wrong_secret(world, cc_token, introspect):
    wrong = (world.clients["service"].client_id, "wrong")
    assert_invalid_client(introspect(cc_token()["access_token"], auth=wrong))


def test_introspection_refuses_a_public_client(world, cc_token, client):
    token = cc_token()["access_token"]
    body = urlencode({"token": token, "client_id": world.clients["cli"].client_id})
    assert_invalid_client(client.post(INTROSPECT_URL, body, content_type=FORM))


def test_introspection_refuses_an_ordinary_bearer_token(world, cc_token, client):
    token = cc_token()["access_token"]
    response = client.post(
        INTROSPECT_URL, urlencode({"token": token}), content_type=FORM, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code in (401, 403)
    assert "active" not in response.content.decode()


def test_introspection_without_token_is_invalid_request(world, client):
    service = world.clients["service"]
    response = client.post(
        INTROSPECT_URL,
        "",
        content_type=FORM,
        HTTP_AUTHORIZATION=basic(service.client_id, service.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_introspection_with_oversized_body_is_an_oauth_error(world, client):
    service = world.clients["service"]
    body = "token=" + "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)
    response = client.post(
        INTROSPECT_URL,
        body,
        content_type=FORM,
        HTTP_AUTHORIZATION=basic(service.client_id, service.client_secret),
    )
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"


# --- revocation ---


def test_revoke_an_access_token(world, password_token, revoke, introspect):
    token = password_token("alice")["access_token"]
    assert sharedstate.get(deny_key(token)) is None
    response = revoke({"token": token, "client_id": world.clients["cli"].client_id})
    assert response.status_code == 200
    assert not get_access_token_model().objects.filter(token_checksum=checksum(token)).exists()
    assert sharedstate.get(deny_key(token)) is not None
    assert introspect(token).json() == {"active": False}


def test_revoke_with_confidential_client_basic_auth(world, cc_token, revoke):
    service = world.clients["service"]
    token = cc_token()["access_token"]
    response = revoke(
        {"token": token, "token_type_hint": "access_token"}, auth=(service.client_id, service.client_secret)
    )
    assert response.status_code == 200
    assert not get_access_token_model().objects.exists()
    assert sharedstate.get(deny_key(token)) is not None


def test_revoke_a_refresh_token_stops_refreshing(world, password_token, revoke, post_token):
    issued = password_token("alice")
    cli = world.clients["cli"].client_id
    response = revoke(
        {"token": issued["refresh_token"], "token_type_hint": "refresh_token", "client_id": cli}
    )
    assert response.status_code == 200
    refreshed = post_token(
        {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"], "client_id": cli}
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"


def test_revoke_unknown_token_is_200(world, revoke):
    response = revoke({"token": "nothing-like-this", "client_id": world.clients["cli"].client_id})
    assert response.status_code == 200


def test_another_client_cannot_revoke_a_token(world, password_token, revoke):
    token = password_token("alice")["access_token"]
    backend = world.clients["backend"]
    revoke({"token": token}, auth=(backend.client_id, backend.client_secret))
    assert get_access_token_model().objects.filter(token_checksum=checksum(token)).exists()
    assert sharedstate.get(deny_key(token)) is None


def test_revocation_with_a_wrong_secret_is_invalid_client(world, cc_token, revoke):
    token = cc_token()["access_token"]
    response = revoke({"token": token}, auth=(world.clients["service"].client_id, "wrong"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert get_access_token_model().objects.exists()


def test_revocation_without_token_is_invalid_request(world, revoke):
    response = revoke({"client_id": world.clients["cli"].client_id})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_revocation_with_oversized_body_is_an_oauth_error(world, client):
    body = "token=" + "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)
    response = client.post(REVOKE_URL, body, content_type=FORM)
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"


def test_introspection_and_revocation_are_csrf_exempt(world, cc_token):
    from django.test import Client

    service = world.clients["service"]
    token = cc_token()["access_token"]
    strict = Client(enforce_csrf_checks=True)
    auth = basic(service.client_id, service.client_secret)
    data = urlencode({"token": token})
    assert (
        strict.post(INTROSPECT_URL, data, content_type=FORM, HTTP_AUTHORIZATION=auth).json()["active"] is True
    )
    assert strict.post(REVOKE_URL, data, content_type=FORM, HTTP_AUTHORIZATION=auth).status_code == 200
    assert not get_access_token_model().objects.exists()


@pytest.mark.parametrize("url", [INTROSPECT_URL, REVOKE_URL])
def test_non_utf8_form_is_invalid_request(world, client, url):
    service = world.clients["service"]
    response = client.generic(
        "POST",
        url,
        b"token=abc",
        content_type=f"{FORM}; charset=latin-1",
        HTTP_AUTHORIZATION=basic(service.client_id, service.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_refresh_token_reuse_puts_the_family_on_the_deny_list(world, password_token, post_token):
    first = password_token("alice")
    cli = world.clients["cli"].client_id
    second = post_token(
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": cli}
    ).json()
    rotated_long_ago(first["refresh_token"])
    post_token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": cli})
    assert sharedstate.get(deny_key(second["access_token"])) is not None
    assert not get_access_token_model().objects.exists()
    assert not get_refresh_token_model().objects.filter(revoked__isnull=True).exists()


def test_deleting_a_token_row_publishes_it(world, cc_token):
    token = cc_token()["access_token"]
    get_access_token_model().objects.get().delete()
    assert sharedstate.get(deny_key(token)) is not None


def test_deny_list_entry_lives_as_long_as_the_token(world, cc_token):
    token = cc_token()["access_token"]
    row = get_access_token_model().objects.get()
    revoking.deny(row.token_checksum, timezone.now() - timedelta(hours=1))
    assert sharedstate.get(deny_key(token)) is None  # an expired token needs no entry
    revoking.deny(row.token_checksum, row.expires)
    assert sharedstate.get(deny_key(token)) == 1


# --- who may introspect, and what is an access token ---


def test_a_client_no_administrator_allowed_cannot_introspect(world, password_token, introspect):
    """Introspection is for resource servers: an authenticated client without the flag gets 403."""
    backend = world.clients["backend"]  # confidential, authenticates fine, but not marked
    credentials = (backend.client_id, backend.client_secret)
    response = introspect(password_token("alice")["access_token"], auth=credentials)
    assert response.status_code == 403, response.content
    assert response.json()["error"] == "unauthorized_client"
    assert "active" not in response.content.decode()
    assert "alice" not in response.content.decode()


def test_a_self_registered_confidential_client_cannot_introspect(world, password_token, client):
    body = {
        "redirect_uris": ["https://client.example/callback"],
        "grant_types": ["authorization_code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "client_name": "anonymous",
    }
    registered = client.post("/oauth/register/", body, content_type="application/json").json()
    token = password_token("alice")["access_token"]
    response = client.post(
        INTROSPECT_URL,
        urlencode({"token": token}),
        content_type=FORM,
        HTTP_AUTHORIZATION=basic(registered["client_id"], registered["client_secret"]),
    )
    assert response.status_code == 403, response.content
    assert "alice" not in response.content.decode()


def test_the_introspection_flag_is_what_allows_it(world, password_token, introspect):
    backend = world.clients["backend"]
    backend.application.policy.may_introspect = True
    backend.application.policy.save()
    credentials = (backend.client_id, backend.client_secret)
    response = introspect(password_token("alice")["access_token"], auth=credentials)
    assert response.status_code == 200
    assert response.json()["active"] is True


def test_a_registration_access_token_is_not_an_active_access_token(world, client, introspect):
    body = {"redirect_uris": ["http://127.0.0.1:33418/callback"], "token_endpoint_auth_method": "none"}
    registered = client.post("/oauth/register/", body, content_type="application/json").json()
    assert registered["registration_access_token"]
    assert introspect(registered["registration_access_token"]).json() == {"active": False}

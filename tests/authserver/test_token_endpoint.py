"""The token endpoint: each grant, client authentication, refresh rotation and RFC 6749 errors."""

from __future__ import annotations

import base64
import json

import pytest
from django.conf import settings
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from .conftest import FORM, TOKEN_URL, basic, rotated_long_ago


def assert_oauth_error(response, status: int, error: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["error"] == error, body
    assert body.get("error_description"), body  # every error says why
    assert "no-store" in response.get("Cache-Control", ""), response.get("Cache-Control")
    return body


# --- client_credentials ---


def test_client_credentials_with_http_basic(world, post_token, decode):
    service = world.clients["service"]
    response = post_token({"grant_type": "client_credentials"}, (service.client_id, service.client_secret))
    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.ACCESS_TOKEN_LIFETIME
    assert "refresh_token" not in body
    # defaults (is_default) ∩ ceiling: mcp:admin is in the ceiling but not a default scope
    assert set(body["scope"].split()) == {"mcp:read", "mcp:tools"}
    assert decode(body["access_token"])["sub"] == service.client_id


def test_client_credentials_with_form_post(world, post_token):
    service = world.clients["service"]
    response = post_token(
        {
            "grant_type": "client_credentials",
            "client_id": service.client_id,
            "client_secret": service.client_secret,
            "scope": "mcp:read",
        }
    )
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "mcp:read"


def test_client_credentials_can_ask_for_a_non_default_scope_in_its_ceiling(world, cc_token):
    assert cc_token(scope="mcp:admin")["scope"] == "mcp:admin"


def test_client_credentials_wrong_secret_is_invalid_client(world, post_token):
    service = world.clients["service"]
    response = post_token({"grant_type": "client_credentials"}, (service.client_id, "wrong"))
    assert_oauth_error(response, 401, "invalid_client")


def test_basic_auth_and_a_different_body_client_id_is_invalid_client(world, post_token):
    service = world.clients["service"]
    response = post_token(
        {"grant_type": "client_credentials", "client_id": world.clients["backend"].client_id},
        (service.client_id, service.client_secret),
    )
    assert_oauth_error(response, 401, "invalid_client")


def test_basic_auth_and_the_same_body_client_id_is_accepted(world, post_token):
    service = world.clients["service"]
    response = post_token(
        {"grant_type": "client_credentials", "client_id": service.client_id},
        (service.client_id, service.client_secret),
    )
    assert response.status_code == 200, response.content


def test_unknown_client_is_invalid_client(world, post_token):
    response = post_token({"grant_type": "client_credentials"}, ("no-such-client", "secret"))
    assert_oauth_error(response, 401, "invalid_client")


def test_public_client_cannot_use_client_credentials(world, post_token):
    response = post_token({"grant_type": "client_credentials", "client_id": world.clients["cli"].client_id})
    assert_oauth_error(response, 401, "invalid_client")


def test_public_client_credentials_client_cannot_authenticate_without_a_secret(world, post_token):
    """A public client's stored secret is the hash of "": it must not count as a secret."""
    application = world.clients["cli"].application
    application.authorization_grant_type = application.GRANT_CLIENT_CREDENTIALS
    application.save()
    for auth, body in [(None, {"client_id": application.client_id}), ((application.client_id, ""), {})]:
        response = post_token({"grant_type": "client_credentials", **body}, auth)
        assert_oauth_error(response, 401, "invalid_client")


def test_public_client_may_not_send_basic_auth_with_an_empty_secret(world, post_token):
    response = post_token(
        {"grant_type": "password", "username": "alice", "password": "alice-password"},
        (world.clients["cli"].client_id, ""),
    )
    assert_oauth_error(response, 401, "invalid_client")


def test_token_endpoint_is_csrf_exempt(world):
    from django.test import Client

    service = world.clients["service"]
    response = Client(enforce_csrf_checks=True).post(
        TOKEN_URL,
        "grant_type=client_credentials",
        content_type=FORM,
        HTTP_AUTHORIZATION=basic(service.client_id, service.client_secret),
    )
    assert response.status_code == 200, response.content


def test_client_may_only_use_its_own_grant_type(world, post_token):
    service = world.clients["service"]
    response = post_token(
        {"grant_type": "password", "username": "alice", "password": "alice-password"},
        (service.client_id, service.client_secret),
    )
    assert_oauth_error(response, 400, "unauthorized_client")


# --- password ---


def test_password_grant_issues_access_and_refresh_tokens(world, post_token, decode):
    response = post_token(
        {
            "grant_type": "password",
            "client_id": world.clients["cli"].client_id,
            "username": "alice",
            "password": "alice-password",
            "scope": "mcp:read mcp:tools",
        }
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["scope"] == "mcp:read mcp:tools"
    assert body["refresh_token"]
    claims = decode(body["access_token"])
    assert claims["sub"] == str(world.users["alice"].pk)
    assert claims["username"] == "alice"


def test_password_grant_with_confidential_client_and_basic_auth(world, post_token):
    backend = world.clients["backend"]
    response = post_token(
        {"grant_type": "password", "username": "guest", "password": "guest-password"},
        (backend.client_id, backend.client_secret),
    )
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "mcp:read"


def test_password_grant_wrong_password_is_invalid_grant(world, post_token):
    response = post_token(
        {
            "grant_type": "password",
            "client_id": world.clients["cli"].client_id,
            "username": "alice",
            "password": "nope",
        }
    )
    assert_oauth_error(response, 400, "invalid_grant")


def test_password_grant_inactive_user_is_invalid_grant(world, post_token):
    world.users["alice"].is_active = False
    world.users["alice"].save()
    response = post_token(
        {
            "grant_type": "password",
            "client_id": world.clients["cli"].client_id,
            "username": "alice",
            "password": "alice-password",
        }
    )
    assert_oauth_error(response, 400, "invalid_grant")


# --- refresh_token: rotation and reuse detection ---


def refresh(post_token, world, refresh_token: str, **data):
    return post_token(
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": world.clients["cli"].client_id,
            **data,
        }
    )


def test_refresh_rotates_the_refresh_token_each_time(world, post_token, password_token, decode):
    first = password_token(scope="mcp:read")
    second = refresh(post_token, world, first["refresh_token"])
    assert second.status_code == 200, second.content
    second = second.json()
    third = refresh(post_token, world, second["refresh_token"]).json()
    refresh_tokens = {first["refresh_token"], second["refresh_token"], third["refresh_token"]}
    assert len(refresh_tokens) == 3
    assert decode(third["access_token"])["sub"] == str(world.users["alice"].pk)
    assert third["scope"] == "mcp:read"


def test_replayed_refresh_token_revokes_the_whole_family(world, post_token, password_token):
    first = password_token(scope="mcp:read")
    second = refresh(post_token, world, first["refresh_token"]).json()
    rotated_long_ago(first["refresh_token"])  # past the grace window (tests/authserver/test_rotations.py)

    replay = refresh(post_token, world, first["refresh_token"])
    assert_oauth_error(replay, 400, "invalid_grant")

    newest = refresh(post_token, world, second["refresh_token"])
    assert_oauth_error(newest, 400, "invalid_grant")


def test_refresh_token_past_its_lifetime_is_invalid_grant(world, post_token, password_token, settings):
    from datetime import timedelta

    from django.utils import timezone

    issued = password_token(scope="mcp:read")
    lifetime = settings.OAUTH2_PROVIDER["REFRESH_TOKEN_EXPIRE_SECONDS"]
    get_access_token_model().objects.update(expires=timezone.now() - timedelta(seconds=lifetime + 1))
    assert_oauth_error(refresh(post_token, world, issued["refresh_token"]), 400, "invalid_grant")


def test_refresh_token_of_another_client_is_refused(world, post_token, password_token):
    issued = password_token(scope="mcp:read")
    backend = world.clients["backend"]
    response = post_token(
        {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
        (backend.client_id, backend.client_secret),
    )
    assert_oauth_error(response, 400, "invalid_grant")


def test_deactivated_user_can_no_longer_refresh(world, post_token, password_token):
    issued = password_token(scope="mcp:read")
    world.users["alice"].is_active = False
    world.users["alice"].save()
    assert_oauth_error(refresh(post_token, world, issued["refresh_token"]), 400, "invalid_grant")


def test_unknown_refresh_token_is_invalid_grant(world, post_token):
    assert_oauth_error(refresh(post_token, world, "not-a-token"), 400, "invalid_grant")


# --- tokens are stored hashed ---


def test_database_holds_no_raw_token(world, password_token):
    import hashlib

    issued = password_token(scope="mcp:read")
    row = get_access_token_model().objects.get()
    assert row.token == ""
    assert row.token_checksum == hashlib.sha256(issued["access_token"].encode()).hexdigest()
    refresh_row = get_refresh_token_model().objects.get()
    assert refresh_row.token == ""
    assert refresh_row.token_checksum == hashlib.sha256(issued["refresh_token"].encode()).hexdigest()


# --- malformed requests: RFC 6749 error JSON, never a 500 ---


def test_wrong_content_type_is_invalid_request(world, client):
    service = world.clients["service"]
    response = client.post(
        TOKEN_URL,
        json.dumps(
            {
                "grant_type": "client_credentials",
                "client_id": service.client_id,
                "client_secret": service.client_secret,
            }
        ),
        content_type="application/json",
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_multipart_body_is_invalid_request(world, client):
    response = client.post(TOKEN_URL, {"grant_type": "client_credentials"})  # multipart/form-data
    assert_oauth_error(response, 400, "invalid_request")


def test_content_type_with_charset_is_accepted(world, client):
    service = world.clients["service"]
    body = (
        f"grant_type=client_credentials&client_id={service.client_id}&client_secret={service.client_secret}"
    )
    response = client.post(TOKEN_URL, body, content_type=FORM + "; charset=UTF-8")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "header",
    [
        "Basic %%%not-base64%%%",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic ",
        "Basic",
    ],
)
def test_bad_basic_header_is_invalid_client(world, client, header):
    response = client.post(
        TOKEN_URL, "grant_type=client_credentials", content_type=FORM, HTTP_AUTHORIZATION=header
    )
    assert_oauth_error(response, 401, "invalid_client")


def test_unknown_grant_type_is_unsupported_grant_type(world, post_token):
    service = world.clients["service"]
    response = post_token({"grant_type": "magic"}, (service.client_id, service.client_secret))
    assert_oauth_error(response, 400, "unsupported_grant_type")


@pytest.mark.parametrize(
    "body",
    [
        {"grant_type": "implicit"},
        {"grant_type": "urn:ietf:params:oauth:grant-type:saml2-bearer", "assertion": "x"},
    ],
)
def test_grant_types_this_server_does_not_offer(world, post_token, body):
    service = world.clients["service"]
    response = post_token(body, (service.client_id, service.client_secret))
    assert_oauth_error(response, 400, "unsupported_grant_type")


def test_missing_grant_type(world, post_token):
    service = world.clients["service"]
    response = post_token({"scope": "mcp:read"}, (service.client_id, service.client_secret))
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_request", "unsupported_grant_type"}


def test_empty_body(world, client):
    response = client.post(TOKEN_URL, "", content_type=FORM)
    assert response.status_code in (400, 401)
    assert response.json()["error"] in {"invalid_request", "unsupported_grant_type", "invalid_client"}


@pytest.mark.parametrize("missing", ["username", "password"])
def test_password_grant_missing_field_is_invalid_request(world, post_token, missing):
    body = {
        "grant_type": "password",
        "client_id": world.clients["cli"].client_id,
        "username": "alice",
        "password": "alice-password",
    }
    del body[missing]
    assert_oauth_error(post_token(body), 400, "invalid_request")


def test_refresh_without_refresh_token_is_invalid_request(world, post_token):
    response = post_token({"grant_type": "refresh_token", "client_id": world.clients["cli"].client_id})
    assert_oauth_error(response, 400, "invalid_request")


def test_code_grant_without_code_is_invalid_request(world, post_token):
    response = post_token(
        {
            "grant_type": "authorization_code",
            "client_id": world.clients["web"].client_id,
            "redirect_uri": "http://127.0.0.1:8765/callback",
            "code_verifier": "x" * 43,
        }
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_oversized_body_is_an_oauth_error_not_a_500(world, client):
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024
    body = "grant_type=client_credentials&padding=" + "a" * size
    response = client.post(TOKEN_URL, body, content_type=FORM)
    assert_oauth_error(response, 413, "invalid_request")


def test_too_many_fields_is_an_oauth_error(world, client):
    body = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 10))
    response = client.post(TOKEN_URL, "grant_type=client_credentials&" + body, content_type=FORM)
    assert_oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize("charset", ["latin-1", "utf-16"])
def test_non_utf8_form_is_invalid_request(world, client, charset):
    response = client.generic(
        "POST", TOKEN_URL, b"grant_type=client_credentials", content_type=f"{FORM}; charset={charset}"
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_unknown_scope_is_invalid_scope(world, cc_token, post_token):
    service = world.clients["service"]
    response = post_token(
        {"grant_type": "client_credentials", "scope": "mcp:nonexistent"},
        (service.client_id, service.client_secret),
    )
    assert_oauth_error(response, 400, "invalid_scope")


def test_get_is_not_allowed(world, client):
    response = client.get(TOKEN_URL)
    assert response.status_code == 405


def test_repeated_parameter_does_not_crash(world, client):
    service = world.clients["service"]
    body = (
        f"grant_type=client_credentials&grant_type=client_credentials&client_id={service.client_id}"
        f"&client_secret={service.client_secret}"
    )
    response = client.post(TOKEN_URL, body, content_type=FORM)
    assert response.status_code in (200, 400)
    assert response["Content-Type"].startswith("application/json")


# --- every error says why (RFC 6749 §5.2 error_description), without telling who exists ---


@pytest.fixture
def bad_requests(world):
    service, cli, backend, web = (world.clients[name] for name in ("service", "cli", "backend", "web"))
    secret = (service.client_id, service.client_secret)
    return {
        "scope outside the ceiling": ({"grant_type": "client_credentials", "scope": "nope"}, secret, 400, "invalid_scope"),
        "wrong secret (Basic)": ({"grant_type": "client_credentials"}, (service.client_id, "wrong"), 401, "invalid_client"),
        "wrong secret (body)": (
            {"grant_type": "client_credentials", "client_id": service.client_id, "client_secret": "wrong"},
            None, 401, "invalid_client",
        ),
        "public client, secret grant": ({"grant_type": "client_credentials", "client_id": cli.client_id}, None, 401, "invalid_client"),
        "grant the client is not registered for": ({"grant_type": "client_credentials"}, (backend.client_id, backend.client_secret), 400, "unauthorized_client"),
        "user with no role for the scopes": (
            {"grant_type": "password", "client_id": cli.client_id, "username": "nobody", "password": "nobody-password"},
            None, 400, "invalid_scope",
        ),
        "unknown refresh token": ({"grant_type": "refresh_token", "client_id": cli.client_id, "refresh_token": "x"}, None, 400, "invalid_grant"),
        "unknown code": (
            {
                "grant_type": "authorization_code",
                "client_id": web.client_id,
                "code": "x",
                "redirect_uri": "http://127.0.0.1:8765/callback",
                "code_verifier": "a" * 50,
            },
            None, 400, "invalid_grant",
        ),
        "no grant_type": ({"client_id": cli.client_id}, None, 400, "unsupported_grant_type"),
    }


def test_every_token_error_carries_a_description(bad_requests, post_token):
    for label, (data, auth, status, error) in bad_requests.items():
        response = post_token(data, auth)
        body = assert_oauth_error(response, status, error)
        assert len(body["error_description"]) > 20, (label, body)


def test_unauthorized_client_names_the_grant_it_may_use(world, post_token):
    backend = world.clients["backend"]
    response = post_token({"grant_type": "client_credentials"}, (backend.client_id, backend.client_secret))
    description = assert_oauth_error(response, 400, "unauthorized_client")["error_description"]
    assert "client_credentials" in description and "password" in description


def test_password_errors_do_not_say_whether_the_user_exists(world, post_token):
    cli = world.clients["cli"]
    answers = [
        post_token({"grant_type": "password", "client_id": cli.client_id, "username": name, "password": "wrong"})
        for name in ("alice", "no-such-user")
    ]
    assert answers[0].json() == answers[1].json()
    assert "username or password" in answers[0].json()["error_description"]


def test_invalid_client_after_http_basic_is_a_basic_challenge(world, post_token):
    """RFC 6749 §5.2: 401 with WWW-Authenticate naming the scheme the client used (not Bearer)."""
    service = world.clients["service"]
    response = post_token({"grant_type": "client_credentials"}, (service.client_id, "wrong"))
    assert_oauth_error(response, 401, "invalid_client")
    assert response["WWW-Authenticate"].startswith('Basic realm="')


def test_invalid_client_at_revocation_is_described_and_a_basic_challenge(world, client):
    service = world.clients["service"]
    response = client.post(
        "/oauth/revoke/", "token=x", content_type=FORM, HTTP_AUTHORIZATION=basic(service.client_id, "wrong")
    )
    assert_oauth_error(response, 401, "invalid_client")
    assert response["WWW-Authenticate"].startswith('Basic realm="')


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_token_endpoint_other_methods_are_405_in_json(client, method):
    response = getattr(client, method)(TOKEN_URL)
    body = assert_oauth_error(response, 405, "invalid_request")
    assert "POST" in body["error_description"]
    assert "POST" in response["Allow"] and "GET" not in response["Allow"]

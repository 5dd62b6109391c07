"""CORS for browser-based clients: a preflight and a real cross-origin call for each endpoint.

The authorization server's endpoints go through django-cors-headers with the per-path policy of
``authserver.cors``; ``/mcp`` and the protected-resource metadata answer CORS themselves (the MCP
server, ``MCP_ALLOWED_ORIGINS``), and these tests check that nothing doubles or drops their headers.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from oauth2_provider.models import get_application_model

from .conftest import FORM, basic

APP_ORIGIN = "https://app.example.test"
REQUIRED_ALLOW = {
    "authorization",
    "content-type",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "mcp-session-id",
    "last-event-id",
    "dpop",
}
REQUIRED_EXPOSE = {"mcp-session-id", "www-authenticate", "mcp-protocol-version", "dpop-nonce"}


def header_set(response, name: str) -> set[str]:
    return {item.strip().lower() for item in response.get(name, "").split(",") if item.strip()}


def preflight(client, path: str, origin: str = APP_ORIGIN, method: str = "POST", headers: str = ""):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers or "authorization, content-type, mcp-protocol-version",
    )


def assert_preflight_allows(response, origin: str, method: str) -> None:
    assert response.status_code in (200, 204)
    assert response["Access-Control-Allow-Origin"] == origin
    assert header_set(response, "Access-Control-Allow-Headers") >= REQUIRED_ALLOW
    assert method.lower() in header_set(response, "Access-Control-Allow-Methods")
    assert "Access-Control-Allow-Credentials" not in response


def assert_readable(response, origin: str) -> None:
    assert response["Access-Control-Allow-Origin"] in (origin, "*")
    assert header_set(response, "Access-Control-Expose-Headers") >= REQUIRED_EXPOSE


@pytest.fixture
def browser_client(world):
    """The public code-flow client, with a registered browser origin."""
    application = world.clients["web"].application
    application.allowed_origins = APP_ORIGIN
    application.save()
    return application


# --- any origin: metadata, JWKS, registration ---


@pytest.mark.parametrize("path", ["/.well-known/oauth-authorization-server", "/.well-known/jwks.json"])
def test_public_documents(world, client, path):
    origin = "https://any.example.test"
    assert_preflight_allows(preflight(client, path, origin, "GET"), origin, "GET")
    response = client.get(path, HTTP_ORIGIN=origin)
    assert response.status_code == 200
    assert_readable(response, origin)


def test_registration_from_any_origin(world, client):
    origin = "https://inspector.example.test"
    assert_preflight_allows(preflight(client, "/oauth/register/", origin), origin, "POST")
    body = {"redirect_uris": ["https://inspector.example.test/cb"], "token_endpoint_auth_method": "none"}
    response = client.post(
        "/oauth/register/", json.dumps(body), content_type="application/json", HTTP_ORIGIN=origin
    )
    assert response.status_code == 201
    assert_readable(response, origin)
    registered = response.json()
    url = f"/oauth/register/{registered['client_id']}/"
    for method in ("GET", "PUT", "DELETE"):
        assert_preflight_allows(preflight(client, url, origin, method), origin, method)
    read = client.get(
        url, HTTP_ORIGIN=origin, HTTP_AUTHORIZATION=f"Bearer {registered['registration_access_token']}"
    )
    assert read.status_code == 200
    assert_readable(read, origin)


def test_refused_registration_is_readable_too(world, client):
    """A browser client must be able to read why it was refused."""
    origin = "https://inspector.example.test"
    body = {"redirect_uris": ["javascript:alert(1)"]}
    response = client.post(
        "/oauth/register/", json.dumps(body), content_type="application/json", HTTP_ORIGIN=origin
    )
    assert response.status_code == 400
    assert response["Access-Control-Allow-Origin"] == origin


# --- the client's registered origins: token and revocation ---


def test_token_endpoint_for_a_registered_origin(world, client, browser_client, code_flow):
    assert_preflight_allows(preflight(client, "/oauth/token/"), APP_ORIGIN, "POST")
    tokens = code_flow()
    body = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": browser_client.client_id,
    }
    response = client.post("/oauth/token/", urlencode(body), content_type=FORM, HTTP_ORIGIN=APP_ORIGIN)
    assert response.status_code == 200
    assert_readable(response, APP_ORIGIN)


def test_revocation_for_a_registered_origin(world, client, browser_client, code_flow):
    assert_preflight_allows(preflight(client, "/oauth/revoke/"), APP_ORIGIN, "POST")
    tokens = code_flow()
    body = {"token": tokens["access_token"], "client_id": browser_client.client_id}
    response = client.post("/oauth/revoke/", urlencode(body), content_type=FORM, HTTP_ORIGIN=APP_ORIGIN)
    assert response.status_code == 200
    assert_readable(response, APP_ORIGIN)


@pytest.mark.parametrize("origin", ["https://evil.example.test", "http://app.example.test", "null"])
def test_token_endpoint_refuses_other_origins(world, client, browser_client, origin):
    browser_client.allowed_origins = f"{APP_ORIGIN} http://app.example.test"
    browser_client.save()
    assert "Access-Control-Allow-Origin" not in preflight(client, "/oauth/token/", origin)
    service = world.clients["service"]
    response = client.post(
        "/oauth/token/",
        "grant_type=client_credentials",
        content_type=FORM,
        HTTP_ORIGIN=origin,
        HTTP_AUTHORIZATION=basic(service.client_id, service.client_secret),
    )
    assert response.status_code == 200  # the server answers; the browser just may not read it
    assert "Access-Control-Allow-Origin" not in response


def test_loopback_http_origin_may_be_registered(world, client, browser_client):
    browser_client.allowed_origins = "http://localhost:6274"
    browser_client.save()
    assert_preflight_allows(
        preflight(client, "/oauth/token/", "http://localhost:6274"), "http://localhost:6274", "POST"
    )


def test_a_registered_browser_client_may_use_its_redirect_origin(world, client):
    body = {"redirect_uris": ["http://localhost:6274/oauth/callback"], "token_endpoint_auth_method": "none"}
    client_id = client.post("/oauth/register/", json.dumps(body), content_type="application/json").json()[
        "client_id"
    ]
    assert get_application_model().objects.get(client_id=client_id).allowed_origins == "http://localhost:6274"
    response = preflight(client, "/oauth/token/", "http://localhost:6274")
    assert response["Access-Control-Allow-Origin"] == "http://localhost:6274"


def test_other_pages_get_no_cors(world, client):
    for path in ("/accounts/login/", "/oauth/introspect/", "/admin/login/"):
        response = client.get(path, HTTP_ORIGIN=APP_ORIGIN)
        assert "Access-Control-Allow-Origin" not in response, path


def test_authorize_endpoint_is_not_cors(world, client):
    response = preflight(client, "/oauth/authorize/", method="GET")
    assert "Access-Control-Allow-Origin" not in response


# --- /mcp and the protected-resource metadata: the MCP server's own CORS, left alone ---


@pytest.fixture
def mcp_origin(settings):
    origin = "https://chat.example.test"
    settings.MCPSERVER = {**settings.MCPSERVER, "ALLOWED_ORIGINS": [origin]}
    return origin


def test_mcp_endpoint_preflight_and_401_are_readable(world, wsgi_client, mcp_origin):
    client = wsgi_client  # /mcp: the production WSGI application
    response = preflight(
        client, "/mcp", mcp_origin, headers="authorization, content-type, mcp-method, mcp-name"
    )
    assert_preflight_allows(response, mcp_origin, "POST")
    assert response.headers.get("Access-Control-Allow-Origin") == mcp_origin  # one value, not doubled
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    call = client.post(
        "/mcp",
        json.dumps(body),
        content_type="application/json",
        HTTP_ORIGIN=mcp_origin,
        HTTP_ACCEPT="application/json",
    )
    assert call.status_code == 401
    assert_readable(call, mcp_origin)  # a browser client can read WWW-Authenticate


def test_mcp_endpoint_refuses_an_unlisted_origin(world, wsgi_client, mcp_origin):
    client = wsgi_client
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    response = client.post(
        "/mcp", json.dumps(body), content_type="application/json", HTTP_ORIGIN="https://evil.test"
    )
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]
)
def test_protected_resource_metadata(world, client, path):
    origin = "https://any.example.test"
    response = preflight(client, path, origin, "GET")
    assert response["Access-Control-Allow-Origin"] in (origin, "*")
    document = client.get(path, HTTP_ORIGIN=origin)
    assert document.status_code == 200
    assert document["Access-Control-Allow-Origin"] in (origin, "*")

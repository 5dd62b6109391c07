"""Clients, tokens and consents through the API: secrets shown once and stored hashed, revocation that
/mcp sees at once."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.hashers import check_password
from oauth2_provider.models import get_access_token_model, get_application_model

from authserver.models import ClientPolicy, Consent
from tests.authserver.conftest import basic
from tests.mcpserver.conftest import McpClient

pytestmark = pytest.mark.django_db
MCP = "http://127.0.0.1:8000/mcp"
Application = get_application_model()
AccessToken = get_access_token_model()
EVIL = "http://evil.example/cb"  # plain http off loopback: refused
SECRET_FIELDS = {"client_secret", "token", "token_checksum", "private_key", "password"}


def client_credentials(wsgi_client, client_id: str, secret: str):
    return wsgi_client.post(
        "/oauth/token/", "grant_type=client_credentials&scope=mcp:read",
        content_type="application/x-www-form-urlencoded", HTTP_AUTHORIZATION=basic(client_id, secret),
    )  # fmt: skip


@pytest.fixture
def service(api):
    body = {"name": "svc", "grant_type": "client-credentials", "scopes": ["mcp:read", "admin:read"]}
    response = api.post("clients/", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_a_new_clients_secret_is_shown_once_and_stored_hashed(api, service, wsgi_client):
    secret = service["client_secret"]
    stored = Application.objects.get(pk=service["id"]).client_secret
    assert stored != secret and check_password(secret, stored)
    shown = api.get(f"clients/{service['id']}/").json()
    assert not SECRET_FIELDS & set(shown)
    assert shown["scopes"] == ["admin:read", "mcp:read"] and shown["enabled"] is True
    assert client_credentials(wsgi_client, service["client_id"], secret).status_code == 200


def test_a_public_client_has_no_secret(api):
    body = {"name": "spa", "grant_type": "authorization-code", "public": True,
            "redirect_uris": ["http://127.0.0.1:9000/cb"], "allowed_origins": ["http://127.0.0.1:9000"],
            "scopes": ["mcp:read"]}  # fmt: skip
    response = api.post("clients/", body)
    assert response.status_code == 201, response.content
    assert response.json()["client_secret"] is None
    assert response.json()["allowed_origins"] == ["http://127.0.0.1:9000"]
    assert api.post(f"clients/{response.json()['id']}/rotate-secret/").status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "grant_type": "implicit", "scopes": []},
        {"name": "x", "grant_type": "client-credentials", "public": True, "scopes": []},
        {"name": "x", "grant_type": "client-credentials", "scopes": ["no-such-scope"]},
        {"name": "x", "grant_type": "authorization-code", "scopes": []},  # no redirect URI
        {"name": "x", "grant_type": "authorization-code", "scopes": [], "redirect_uris": [EVIL]},
        {"name": "x", "grant_type": "client-credentials", "scopes": [], "allowed_origins": ["ftp://x"]},
        {"name": "x", "grant_type": "client-credentials", "scopes": [], "client_id": "tests-management-api"},
        {"name": "x", "grant_type": "client-credentials"},
    ],
)
def test_invalid_clients_are_400(api, body):
    before = Application.objects.count()
    response = api.post("clients/", body)
    assert response.status_code == 400, response.content
    assert Application.objects.count() == before


def test_rotating_the_secret_replaces_it(api, service, wsgi_client):
    response = api.post(f"clients/{service['id']}/rotate-secret/")
    assert response.status_code == 200
    new = response.json()
    assert new["client_id"] == service["client_id"] and new["client_secret"] != service["client_secret"]
    assert client_credentials(wsgi_client, service["client_id"], service["client_secret"]).status_code == 401
    assert client_credentials(wsgi_client, service["client_id"], new["client_secret"]).status_code == 200
    entry = LogEntry.objects.filter(object_id=str(service["id"])).latest("id")
    assert entry.change_message.startswith("Rotated the client secret")


def test_a_client_acting_for_itself_gets_no_admin_scope_even_within_its_ceiling(service, wsgi_client):
    response = client_credentials(wsgi_client, service["client_id"], service["client_secret"])
    assert response.json()["scope"] == "mcp:read"


def test_ceiling_origins_and_switches_are_edited_in_one_patch(api, service, wsgi_client):
    body = {"scopes": ["mcp:tools"], "allowed_origins": ["https://app.example"], "may_introspect": True}
    response = api.patch(f"clients/{service['id']}/", body)
    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in body} == {**body, "scopes": ["mcp:tools"]}
    assert api.patch(f"clients/{service['id']}/", {"allowed_origins": ["ftp://x"]}).status_code == 400
    assert api.patch(f"clients/{service['id']}/", {"redirect_uris": [EVIL]}).status_code == 400
    assert api.get(f"clients/{service['id']}/").json()["allowed_origins"] == ["https://app.example"]
    entry = LogEntry.objects.filter(object_id=str(service["id"])).latest("id")
    assert entry.change_message.startswith("Changed allowed_origins, may_introspect, scopes")


def test_a_clients_refresh_grace_is_set_changed_and_bounded_by_the_servers(api, service):
    assert service["refresh_grace_seconds"] is None  # the server's window
    url = f"clients/{service['id']}/"
    assert api.patch(url, {"refresh_grace_seconds": 2}).json()["refresh_grace_seconds"] == 2
    assert ClientPolicy.objects.get(application_id=service["id"]).refresh_grace_seconds == 2
    for refused in (6, -1, "soon"):  # the server's window is 5 s
        response = api.patch(url, {"refresh_grace_seconds": refused})
        assert response.status_code == 400 and "refresh_grace_seconds" in response.json(), response.content
    assert api.patch(url, {"refresh_grace_seconds": None}).json()["refresh_grace_seconds"] is None
    body = {"name": "tv", "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "public": True,
            "scopes": ["mcp:read"], "refresh_grace_seconds": 0}  # fmt: skip
    created = api.post("clients/", body)
    assert created.status_code == 201, created.content
    assert created.json()["refresh_grace_seconds"] == 0 and created.json()["grant_type"] == body["grant_type"]
    assert api.post("clients/", {**body, "refresh_grace_seconds": 6}).status_code == 400


def test_a_clients_token_exchange_audiences_are_set_changed_and_checked(api, service):
    assert service["token_exchange_audiences"] == []  # no token exchange
    url = f"clients/{service['id']}/"
    targets = ["https://api.example/v1", "https://files.example/"]
    assert api.patch(url, {"token_exchange_audiences": targets}).json()["token_exchange_audiences"] == targets
    assert ClientPolicy.objects.get(application_id=service["id"]).exchange_audiences == targets
    for refused in (["not a uri"], ["https://api.example/#frag"], "https://api.example/"):
        response = api.patch(url, {"token_exchange_audiences": refused})
        assert response.status_code == 400 and "token_exchange_audiences" in response.json(), response.content
    assert api.patch(url, {"token_exchange_audiences": []}).json()["token_exchange_audiences"] == []
    body = {"name": "gateway", "grant_type": "client-credentials", "scopes": ["mcp:read"],
            "token_exchange_audiences": targets[:1]}  # fmt: skip
    created = api.post("clients/", body)
    assert created.status_code == 201, created.content
    assert created.json()["token_exchange_audiences"] == targets[:1]


def test_disabling_a_client_revokes_its_tokens(api, service, wsgi_client):
    issued = client_credentials(wsgi_client, service["client_id"], service["client_secret"])
    token = issued.json()["access_token"]
    mcp = McpClient(wsgi_client, token)
    assert mcp.modern("tools/list").status_code == 200
    response = api.patch(f"clients/{service['id']}/", {"enabled": False})
    assert response.json()["enabled"] is False
    assert mcp.modern("tools/list").status_code == 401
    assert client_credentials(wsgi_client, service["client_id"], service["client_secret"]).status_code != 200


def test_tokens_are_listed_by_user_and_client_without_their_values(api, people):
    tokens = api.get("tokens/?username=user&client_id=tests-management-api&active=true").json()["results"]
    assert [token["username"] for token in tokens] == ["user"]
    assert not SECRET_FIELDS & set(tokens[0])
    assert tokens[0]["scopes"] == ["mcp:read", "mcp:tools", "mcp:prompts"]
    assert api.get(f"tokens/?user={people['user'].pk}").json()["count"] == 1
    assert api.get("tokens/?active=false").json()["count"] == 0
    assert api.get("tokens/?user=not-a-number").status_code == 400


def test_revoking_a_token_makes_mcp_refuse_it_at_once(api, tokens, wsgi_client, people):
    mcp = McpClient(wsgi_client, tokens["user"])
    assert mcp.modern("tools/list").status_code == 200
    row = AccessToken.objects.get(user=people["user"])
    assert api.delete(f"tokens/{row.pk}/").status_code == 204
    assert mcp.modern("tools/list").status_code == 401
    assert LogEntry.objects.get(object_repr=f"access token {row.pk}").change_message.startswith("Revoked")
    assert api.delete(f"tokens/{row.pk}/").status_code == 404


def test_withdrawing_a_consent_revokes_the_clients_tokens_for_that_user(api, people, tokens, wsgi_client):
    from authserver.clients import internal_client

    client = internal_client("tests-management-api", "management API tests")
    consent = Consent.objects.create(user=people["user"], application=client, resource=MCP)
    listed = api.get("consents/?username=user").json()["results"]
    assert [c["client_id"] for c in listed] == ["tests-management-api"]
    assert api.delete(f"consents/{consent.pk}/").status_code == 204
    assert not Consent.objects.exists()
    assert McpClient(wsgi_client, tokens["user"]).modern("tools/list").status_code == 401


def test_dpop_bound_access_tokens_is_a_client_switch(api, service, wsgi_client):
    response = api.patch(f"clients/{service['id']}/", {"dpop_bound_access_tokens": True})
    assert response.status_code == 200, response.content
    assert response.json()["dpop_bound_access_tokens"] is True
    refused = client_credentials(wsgi_client, service["client_id"], service["client_secret"])
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_dpop_proof"


def test_a_client_registered_with_public_keys_authenticates_with_assertions(api, wsgi_client):
    from tests.assertion_signer import Signer, token_request

    signer = Signer("RS256")
    body = {"name": "ci", "grant_type": "client-credentials", "scopes": ["mcp:read"], "jwks": signer.jwks}
    response = api.post("clients/", body)
    assert response.status_code == 201, response.content
    made = response.json()
    assert made["client_secret"] is None and made["token_endpoint_auth_method"] == "private_key_jwt"
    assert made["jwks"] == signer.jwks and made["jwks_uri"] == ""
    assert api.post(f"clients/{made['id']}/rotate-secret/").status_code == 400
    form = "application/x-www-form-urlencoded"
    from urllib.parse import urlencode

    def token(assertion):
        return wsgi_client.post("/oauth/token/", urlencode(token_request(assertion)), content_type=form)

    assert token(signer.sign(made["client_id"])).status_code == 200
    rotated = Signer("ES256")
    assert api.patch(f"clients/{made['id']}/", {"jwks": rotated.jwks}).status_code == 200
    assert token(signer.sign(made["client_id"])).status_code == 401
    assert token(rotated.sign(made["client_id"])).status_code == 200


@pytest.mark.parametrize(
    "keys",
    [
        {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
        {"jwks_uri": "http://keys.example/jwks.json"},
        {"jwks": {"keys": []}},
    ],
)
def test_unusable_client_keys_are_400(api, keys):
    response = api.post("clients/", {"name": "x", "grant_type": "client-credentials", "scopes": [], **keys})
    assert response.status_code == 400, response.content


def test_a_secret_client_cannot_be_given_keys(api, service):
    assert api.patch(f"clients/{service['id']}/", {"jwks": {"keys": []}}).status_code == 400

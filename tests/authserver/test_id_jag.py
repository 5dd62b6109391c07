"""Identity assertion authorization grants (ID-JAG) at the token endpoint: the jwt-bearer grant with a
simulated identity provider whose keys are served over HTTPS on the loopback host."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import jwt
import pytest
from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError

import sharedstate
from authserver.clients import create_client
from authserver.models import FederatedIdentity, IdentityProvider, User
from tests.assertion_signer import Signer
from tests.assertion_signer import credentials as assertion_credentials
from tests.idp import JWT_BEARER, TYP, token_request
from tests.idp import IdentityProvider as SimulatedProvider

from .cimd_server import HOST, Document, DocumentServer
from .conftest import FORM, TOKEN_URL, basic

ISSUER = "https://idp.example.test"


@pytest.fixture(scope="module")
def key_server(tmp_path_factory):
    server = DocumentServer(tmp_path_factory.mktemp("idp"))
    yield server
    server.close()


@pytest.fixture
def idp(key_server, settings, monkeypatch):
    """The simulated provider, its JWK Set served at a jwks_uri on the loopback test host."""
    monkeypatch.setenv("SSL_CERT_FILE", str(key_server.ca_file))
    settings.AUTHSERVER = {**settings.AUTHSERVER, "CIMD_PRIVATE_HOSTS": [HOST]}
    key_server.documents.clear()
    key_server.requests.clear()
    simulated = SimulatedProvider(ISSUER, settings.OAUTH_ISSUER, settings.MCP_RESOURCE_URL)
    key_server.documents["/idp/jwks.json"] = Document(json.dumps(simulated.jwks).encode())
    return simulated


@pytest.fixture
def app(world):
    """A confidential client (registered for the code grant) that exchanges the provider's assertions."""
    return create_client("Enterprise app", "authorization-code", ["mcp:read", "mcp:tools", "mcp:prompts"],
                         redirect_uris=["http://127.0.0.1:8765/callback"])  # fmt: skip


@pytest.fixture
def provider(idp, app, key_server, world):
    """The provider as an administrator configures it: trusted for ``app``, alice linked to U0001."""
    made = IdentityProvider.objects.create(
        name="Acme IdP", issuer=ISSUER, jwks_uri=key_server.url("/idp/jwks.json")
    )
    made.clients.add(app.application)
    FederatedIdentity.objects.create(provider=made, subject="U0001", user=world.users["alice"])
    return made


@pytest.fixture
def exchange(client, app):
    """POST a jwt-bearer token request, the client authenticating with HTTP Basic (by default ``app``)."""

    def post(assertion: str, auth=None, **data):
        auth = auth or (app.client_id, app.client_secret)
        body = urlencode(token_request(assertion, **data))
        return client.post(TOKEN_URL, body, content_type=FORM, HTTP_AUTHORIZATION=basic(*auth))

    return post


def refused(response, error: str = "invalid_grant", fragment: str = "", status: int = 400) -> dict:
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert body["error"] == error, body
    assert fragment in body["error_description"], body
    assert "no-store" in response["Cache-Control"]
    return body


def test_an_assertion_becomes_an_access_token_for_the_linked_user(
    provider, idp, app, exchange, decode, world
):
    response = exchange(idp.jag(app.client_id))
    assert response.status_code == 200, response.content
    body = response.json()
    assert "refresh_token" not in body
    claims = decode(body["access_token"])
    assert claims["sub"] == str(world.users["alice"].pk) and claims["username"] == "alice"
    assert claims["client_id"] == app.client_id and claims["aud"] == settings.MCP_RESOURCE_URL
    assert sorted(body["scope"].split()) == ["mcp:read", "mcp:tools"]  # alice's roles within the ceiling


def test_the_assertion_scope_narrows_the_token(provider, idp, app, exchange):
    response = exchange(idp.jag(app.client_id, scope="mcp:read mcp:prompts"))
    assert response.json()["scope"] == "mcp:read"  # alice has no prompts role
    response = exchange(idp.jag(app.client_id, scope="mcp:read mcp:tools"), scope="mcp:tools")
    assert response.json()["scope"] == "mcp:tools"
    refused(
        exchange(idp.jag(app.client_id, scope="mcp:read"), scope="mcp:tools"),
        "invalid_scope",
        "identity provider",
    )


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"typ": "JWT"}, "typ"),
        ({"aud": "https://other-as.example"}, "aud"),
        ({"resource": "https://other.example/mcp"}, "resource"),
        ({"lifetime": -120}, "expired"),
        ({"lifetime": 3600}, "at most"),
        ({"iat": int(time.time()) + 600, "lifetime": 700}, "not valid yet"),
        ({"drop": ["jti"]}, "jti"),
        ({"drop": ["resource"]}, "resource"),
        ({"drop": ["client_id"]}, "client_id"),
        ({"jti": ""}, "jti"),
        ({"iss": "https://unknown-idp.example"}, "not a trusted identity provider"),
        ({"subject": "U9999"}, "not a user"),
        ({"scope": ["mcp:read"]}, "scope"),
    ],
)
def test_bad_assertions_are_invalid_grants(provider, idp, app, exchange, change, fragment):
    refused(exchange(idp.jag(app.client_id, **change)), fragment=fragment)


def test_an_assertion_for_another_client_is_refused(provider, idp, app, exchange, world):
    other = world.clients["service"]
    provider.clients.add(other.application)
    refused(exchange(idp.jag(other.client_id)), fragment="another client")


def test_a_replayed_assertion_is_refused(provider, idp, app, exchange):
    assertion = idp.jag(app.client_id)
    assert exchange(assertion).status_code == 200
    refused(exchange(assertion), fragment="already used")


def test_a_disabled_provider_is_refused(provider, idp, app, exchange):
    provider.enabled = False
    provider.save()
    refused(exchange(idp.jag(app.client_id)), "unauthorized_client", "no identity provider lists it")
    IdentityProvider.objects.create(
        name="Other", issuer="https://other-idp.example", jwks_uri=provider.jwks_uri
    )
    IdentityProvider.objects.get(name="Other").clients.add(app.application)
    refused(exchange(idp.jag(app.client_id)), fragment="disabled")


def test_signatures_must_be_the_providers(provider, idp, app, exchange):
    impostor = SimulatedProvider(ISSUER, settings.OAUTH_ISSUER, settings.MCP_RESOURCE_URL)
    impostor.signer.kid = idp.signer.kid
    refused(exchange(impostor.jag(app.client_id)), fragment="signature")
    unsigned = jwt.encode({"iss": ISSUER, "sub": "U0001"}, None, algorithm="none", headers={"typ": TYP})
    refused(exchange(unsigned), fragment="alg")
    refused(exchange("not-a-jwt"), fragment="not a JWT")


def test_a_client_no_provider_lists_may_not_use_the_grant(provider, idp, exchange, world):
    backend = world.clients["backend"]
    response = exchange(idp.jag(backend.client_id), auth=(backend.client_id, backend.client_secret))
    refused(response, "unauthorized_client", "no identity provider lists it")


def test_a_listed_client_may_not_use_another_providers_assertions(provider, idp, app, exchange, world):
    backend = world.clients["backend"]
    other = IdentityProvider.objects.create(
        name="Other", issuer="https://other-idp.example", jwks_uri=provider.jwks_uri
    )
    other.clients.add(backend.application)
    response = exchange(idp.jag(backend.client_id), auth=(backend.client_id, backend.client_secret))
    refused(response, "unauthorized_client", "may not exchange", status=400)


def test_the_client_must_authenticate(provider, idp, app, client, world):
    body = urlencode(token_request(idp.jag(app.client_id), client_id=app.client_id))
    refused(client.post(TOKEN_URL, body, content_type=FORM), "invalid_client", status=401)
    cli = world.clients["cli"]  # a public client: no credentials to authenticate with
    provider.clients.add(cli.application)
    body = urlencode(token_request(idp.jag(cli.client_id), client_id=cli.client_id))
    refused(client.post(TOKEN_URL, body, content_type=FORM), "invalid_client", status=401)


def test_a_private_key_jwt_client_exchanges_assertions(provider, idp, client, world, decode):
    signer = Signer()
    made = create_client("Signed app", "authorization-code", ["mcp:read"], jwks=signer.jwks,
                         redirect_uris=["http://127.0.0.1:8765/callback"])  # fmt: skip
    provider.clients.add(made.application)
    data = {**token_request(idp.jag(made.client_id)), **assertion_credentials(signer.sign(made.client_id))}
    response = client.post(TOKEN_URL, urlencode(data), content_type=FORM)
    assert response.status_code == 200, response.content
    assert decode(response.json()["access_token"])["scope"] == "mcp:read"


def test_a_missing_assertion_is_an_invalid_request(provider, idp, app, client):
    auth = basic(app.client_id, app.client_secret)
    missing = urlencode({"grant_type": JWT_BEARER})
    refused(
        client.post(TOKEN_URL, missing, content_type=FORM, HTTP_AUTHORIZATION=auth),
        "invalid_request",
        "assertion",
    )


def test_a_resource_outside_the_assertions_is_invalid_target(provider, idp, app, exchange, settings):
    other = "https://other.example/mcp"
    settings.AUTHSERVER = {**settings.AUTHSERVER, "ALLOWED_RESOURCES": [settings.MCP_RESOURCE_URL, other]}
    refused(exchange(idp.jag(app.client_id), resource=other), "invalid_target")
    assert exchange(idp.jag(app.client_id), resource=settings.MCP_RESOURCE_URL).status_code == 200


def test_a_deactivated_user_gets_nothing(provider, idp, app, exchange, world):
    world.users["alice"].is_active = False
    world.users["alice"].save()
    refused(exchange(idp.jag(app.client_id)), fragment="deactivated")


def test_unknown_subjects_become_users_when_the_provider_allows(provider, idp, app, exchange, decode, world):
    provider.create_users = True
    provider.save()
    provider.new_user_roles.add(world.roles["reader"])
    first = exchange(idp.jag(app.client_id, subject="U0002", email="bob@example.com", email_verified=True))
    assert first.status_code == 200, first.content
    user = FederatedIdentity.objects.get(provider=provider, subject="U0002").user
    assert (user.username, user.email, user.has_usable_password()) == (
        "bob@example.com",
        "bob@example.com",
        False,
    )
    assert user.role_names() == ["reader"] and first.json()["scope"] == "mcp:read"
    assert decode(first.json()["access_token"])["sub"] == str(user.pk)
    again = exchange(idp.jag(app.client_id, subject="U0002"))
    assert again.status_code == 200 and decode(again.json()["access_token"])["sub"] == str(user.pk)
    assert User.objects.filter(email="bob@example.com").count() == 1
    unverified = exchange(idp.jag(app.client_id, subject="U0003", email="eve@example.com"))
    assert unverified.status_code == 200  # a user of its own, not named after an unverified email
    assert FederatedIdentity.objects.get(subject="U0003").user.username.startswith(f"idp{provider.pk}-")


def test_verified_email_mapping(provider, idp, app, exchange, decode, world):
    provider.subject_mapping = IdentityProvider.BY_EMAIL
    provider.save()
    guest = world.users["guest"]
    guest.email = "guest@example.com"
    guest.save()
    unverified = idp.jag(app.client_id, subject="G1", email="guest@example.com", email_verified=False)
    refused(exchange(unverified), fragment="not a user")
    response = exchange(idp.jag(app.client_id, subject="G1", email="Guest@Example.com", email_verified=True))
    assert response.status_code == 200, response.content
    assert decode(response.json()["access_token"])["username"] == "guest"
    assert FederatedIdentity.objects.get(provider=provider, subject="G1").user == guest


def test_keys_are_fetched_once_and_refetched_for_a_new_kid(
    provider, idp, app, exchange, key_server, settings
):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "CLIENT_JWKS_REFRESH_SECONDS": 1}
    for _ in range(2):
        assert exchange(idp.jag(app.client_id)).status_code == 200
    assert key_server.requests == ["/idp/jwks.json"]
    rotated = SimulatedProvider(ISSUER, settings.OAUTH_ISSUER, settings.MCP_RESOURCE_URL)
    key_server.documents["/idp/jwks.json"] = Document(json.dumps(rotated.jwks).encode())
    time.sleep(2.1)  # past CLIENT_JWKS_REFRESH_SECONDS (the database cache keeps expiry to the second)
    assert exchange(rotated.jag(app.client_id)).status_code == 200
    assert key_server.requests == ["/idp/jwks.json"] * 2


def test_the_grant_is_advertised(client, db):
    assert JWT_BEARER in client.get("/.well-known/oauth-authorization-server").json()["grant_types_supported"]


def test_an_administrator_configures_a_provider_in_the_admin(admin_client, app, world):
    assert admin_client.get("/admin/authserver/identityprovider/add/").status_code == 200
    data = {
        "name": "Acme", "issuer": ISSUER, "jwks_uri": "https://idp.example.test/keys",
        "clients": [app.application.pk], "subject_mapping": "sub",
        "new_user_roles": [world.roles["reader"].pk],
        "enabled": "on", "identities-TOTAL_FORMS": "1", "identities-INITIAL_FORMS": "0",
        "identities-MIN_NUM_FORMS": "0", "identities-MAX_NUM_FORMS": "1000",
        "identities-0-subject": "U0001", "identities-0-user": world.users["alice"].pk,
    }  # fmt: skip
    response = admin_client.post("/admin/authserver/identityprovider/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    provider = IdentityProvider.objects.get(name="Acme")
    assert list(provider.clients.all()) == [app.application]
    assert provider.identities.get().user == world.users["alice"]
    html = admin_client.get("/admin/authserver/identityprovider/").content.decode()
    assert ISSUER in html
    assert "U0001" in admin_client.get("/admin/authserver/federatedidentity/").content.decode()


def test_the_admin_refuses_a_plain_http_jwks_uri(admin_client, app):
    data = {
        "name": "Acme", "issuer": ISSUER, "jwks_uri": "http://idp.example.test/keys",
        "subject_mapping": "sub", "identities-TOTAL_FORMS": "0", "identities-INITIAL_FORMS": "0",
    }  # fmt: skip
    response = admin_client.post("/admin/authserver/identityprovider/add/", data)
    assert response.status_code == 200 and "https" in response.content.decode()
    assert not IdentityProvider.objects.exists()


def test_without_the_replay_cache_nothing_is_accepted(provider, idp, app, exchange, monkeypatch):
    """An assertion whose jti cannot be spent is refused (503, try again), never accepted unchecked."""
    assert exchange(idp.jag(app.client_id)).status_code == 200  # the keys are cached now

    def unreachable(*args, **kwargs):
        raise RedisConnectionError("refused")

    monkeypatch.setattr(sharedstate, "seen_once", unreachable)
    refused(exchange(idp.jag(app.client_id)), "temporarily_unavailable", "identity assertions", status=503)

"""Dynamic client registration (RFC 7591) and its management (RFC 7592): policies, rules, answers."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

import sharedstate
from authserver import registration, revoking
from authserver.models import ClientPolicy, InitialAccessToken

from .conftest import AUTHORIZE_URL, REDIRECT_URI, pkce_pair, redirect_params

REGISTER_URL = "/oauth/register/"
SDK_BODY = {
    "redirect_uris": ["http://127.0.0.1:33418/callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "client_name": "Example MCP host",
    "application_type": "native",
    "token_endpoint_auth_method": "none",
    "scope": "mcp:read mcp:tools",
}


@pytest.fixture
def register(client):
    def post(body, token: str | None = None, raw: bool = False, **extra):
        if token:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        data = body if raw else json.dumps(body)
        return client.post(REGISTER_URL, data, content_type="application/json", **extra)

    return post


@pytest.fixture
def registered(world, register):
    """Register a client with the SDK's body (plus overrides); return the 201 answer's JSON."""

    def run(**fields) -> dict:
        response = register({**SDK_BODY, **fields})
        assert response.status_code == 201, response.content
        return response.json()

    return run


def use_policy(settings, name: str) -> None:
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "DCR_REGISTRATION_PERMISSION_CLASSES": settings.DCR_PERMISSION_CLASSES[name],
    }


def applications() -> int:
    return get_application_model().objects.count()


# --- the answer to a typical MCP SDK registration ---


def test_sdk_registration_is_answered_with_201_and_the_registered_metadata(registered):
    body = registered()
    assert body["client_id"]
    assert body["redirect_uris"] == SDK_BODY["redirect_uris"]
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert body["response_types"] == ["code"]
    assert body["token_endpoint_auth_method"] == "none"
    assert body["client_name"] == "Example MCP host"
    assert body["scope"] == "mcp:read mcp:tools"
    assert isinstance(body["client_id_issued_at"], int)
    assert "client_secret" not in body
    assert body["registration_access_token"]
    assert body["registration_client_uri"].endswith(f"/oauth/register/{body['client_id']}/")


def test_registration_and_management_need_no_csrf_token(world):
    """Endpoints for clients without cookies: Django's CSRF check must not apply (live servers enforce it)."""
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(REGISTER_URL, json.dumps(SDK_BODY), content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {body['registration_access_token']}"}
    url = f"/oauth/register/{body['client_id']}/"
    updated = strict.put(url, json.dumps(SDK_BODY), content_type="application/json", **headers)
    assert updated.status_code == 200, updated.content
    headers["HTTP_AUTHORIZATION"] = f"Bearer {updated.json()['registration_access_token']}"
    assert strict.delete(url, **headers).status_code == 204


def test_answers_are_not_cached(world, register):
    assert register(SDK_BODY)["Cache-Control"] == "no-store"


def test_registered_client_is_dynamic_with_the_default_ceiling(registered):
    application = get_application_model().objects.get(client_id=registered()["client_id"])
    assert application.registration_source == "dcr"
    assert application.client_type == "public"
    policy = ClientPolicy.objects.get(application=application)
    # The world's ordinary users hold read and tools; prompts is in no user's role, admin in no role.
    assert set(policy.scopes.values_list("name", flat=True)) == {"mcp:read", "mcp:tools"}
    assert policy.enabled


def test_default_ceiling_never_holds_a_scope_only_staff_have(world, registered, make_role, make_user):
    make_role("operators", ["mcp:admin"])
    make_user("ops", ["operators"], is_staff=True)
    assert "mcp:admin" not in registered()["scope"].split()
    make_user("carol", ["operators"])  # now an ordinary user could consent to it
    assert "mcp:admin" in registered()["scope"].split()


def test_default_ceiling_from_the_setting(registered, settings):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "DCR_DEFAULT_SCOPES": ["mcp:read"]}
    assert registered()["scope"] == "mcp:read"


def test_a_requested_scope_does_not_narrow_the_ceiling(registered):
    """A client may step up later (MCP's insufficient_scope) without registering again."""
    assert registered(scope="mcp:read")["scope"] == "mcp:read mcp:tools"


def test_unknown_fields_are_ignored(registered):
    body = registered(software_id="x-1", software_version="2", application_type="web", extra={"a": [1]})
    assert body["client_id"]


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_confidential_client_gets_a_secret_that_authenticates(world, registered, post_token, method):
    body = registered(token_endpoint_auth_method=method)
    assert body["client_secret"] and body["client_secret_expires_at"] == 0
    application = get_application_model().objects.get(client_id=body["client_id"])
    assert application.client_type == "confidential"
    assert body["client_secret"] not in application.client_secret  # stored hashed
    # A wrong code, but the client authenticated: invalid_grant, not invalid_client.
    data = {"grant_type": "authorization_code", "code": "nope", "redirect_uri": SDK_BODY["redirect_uris"][0]}
    assert (
        post_token(data, auth=(body["client_id"], body["client_secret"])).json()["error"] == "invalid_grant"
    )
    assert post_token(data, auth=(body["client_id"], "wrong")).json()["error"] == "invalid_client"


def test_registered_client_runs_the_code_flow_within_its_ceiling(
    world, registered, authorize, post_token, decode
):
    body = registered(redirect_uris=[REDIRECT_URI])
    verifier, challenge = pkce_pair()
    response = authorize(world.users["alice"], body["client_id"], "mcp:read mcp:tools mcp:admin", challenge)
    code = redirect_params(response)["code"]
    token = post_token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": body["client_id"],
            "code_verifier": verifier,
        }
    ).json()
    assert token["scope"] == "mcp:read mcp:tools"
    assert decode(token["access_token"])["client_id"] == body["client_id"]


def test_registrations_survive_as_rows(registered):
    """Kept across restarts: a registration is an ordinary client in the database."""
    client_id = registered()["client_id"]
    assert get_application_model().objects.filter(client_id=client_id, registration_source="dcr").exists()


# --- redirect URI rules ---


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.test/callback",
        "http://127.0.0.1:33418/callback",
        "http://localhost:6274/oauth/callback",
        "http://[::1]:8080/cb",
        "http://127.0.0.1/cb",
        "com.example.app:/oauth2redirect",
    ],
)
def test_accepted_redirect_uris(registered, uri):
    assert registered(redirect_uris=[uri])["redirect_uris"] == [uri]


@pytest.mark.parametrize(
    "uri",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "https://app.example.test/cb#fragment",
        "https://app.example.test/cb#",
        "https://*.example.test/cb",
        "http://127.0.0.1:*/cb",
        "http://app.example.test/cb",
        "http://127.0.0.1.evil.example.test/cb",
        "http://localhost.evil.example.test/cb",
        "https://user:secret@app.example.test/cb",
        "file:///etc/passwd",
        "ftp://app.example.test/cb",
        "/callback",
        "",
        "https://app.example.test/c b",
        "https://app.example.test:99999/cb",
    ],
)
def test_refused_redirect_uris(world, register, uri):
    before = applications()
    response = register({**SDK_BODY, "redirect_uris": ["https://ok.example.test/cb", uri]})
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_redirect_uri"
    assert applications() == before


def test_a_redirect_uri_that_is_not_a_string_is_refused(world, register):
    response = register({**SDK_BODY, "redirect_uris": [42]})
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_redirect_uri", "invalid_client_metadata"}


def test_loopback_port_is_matched_exactly(world, registered, client):
    client_id = registered()["client_id"]
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    query = (
        f"?response_type=code&client_id={client_id}&scope=mcp:read&code_challenge={challenge}"
        "&code_challenge_method=S256&redirect_uri=http://127.0.0.1:33419/callback"
    )
    assert client.get(AUTHORIZE_URL + query).status_code == 400


def test_private_use_scheme_gets_its_code(world, registered, authorize, client):
    uri = "com.example.app:/oauth2redirect"
    client_id = registered(redirect_uris=[uri])["client_id"]
    _, challenge = pkce_pair()
    client.force_login(world.users["alice"])
    page = authorize.consent_page(client_id, "mcp:read", challenge, redirect_uri=uri)
    assert page.status_code == 200
    response = authorize(world.users["alice"], client_id, "mcp:read", challenge, redirect_uri=uri)
    assert response.status_code == 302
    assert response["Location"].startswith(uri + "?")
    assert redirect_params(response)["code"]


# --- metadata this server refuses ---


@pytest.mark.parametrize(
    "fields",
    [
        {"grant_types": ["client_credentials"]},
        {"grant_types": ["password"]},
        {"grant_types": ["implicit"]},
        {"grant_types": ["authorization_code", "client_credentials"]},
        {"grant_types": ["urn:ietf:params:oauth:grant-type:device_code"]},
        {"grant_types": ["refresh_token"]},
        {"grant_types": []},
        {"grant_types": "authorization_code"},
        {"response_types": ["token"]},
        {"response_types": ["code", "token"]},
        {"token_endpoint_auth_method": "private_key_jwt"},
        {"client_name": ["a", "list"]},
        {"scope": 7},
        {"redirect_uris": []},
        {"redirect_uris": "http://127.0.0.1:33418/callback"},
    ],
)
def test_refused_metadata(world, register, fields):
    before = applications()
    response = register({**SDK_BODY, **fields})
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_client_metadata"
    assert applications() == before


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_unreadable_bodies(world, register, body):
    response = register(body, raw=True)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


def test_oversized_body(world, register, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = register({**SDK_BODY, "client_name": "x" * 2000})
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_client_metadata"


def test_a_deeply_nested_body_is_invalid_metadata_not_a_500(world, register, caplog):
    before = applications()
    response = register(b"[" * 100_000 + b"]" * 100_000, raw=True)
    assert response.status_code in (400, 413)
    assert response.json()["error"] == "invalid_client_metadata"
    response = register(b"[" * 8_000 + b"]" * 8_000, raw=True)  # within the size limit
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
    nested = {**SDK_BODY, "software_statement_extra": json.loads("[" * 40 + "]" * 40)}
    response = register(nested)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_client_metadata"
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text
    assert applications() == before


def test_registration_metadata_size_is_capped(world, register, settings):
    """Far below the general upload limit: a registration is a few hundred bytes."""
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE > 64 * 1024
    before = applications()
    response = register({**SDK_BODY, "client_name": "x" * 20_000})
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_client_metadata"
    assert applications() == before


def test_redirect_uris_per_client_are_capped(world, register, settings):
    before = applications()
    uris = [f"http://127.0.0.1:{9000 + n}/callback" for n in range(11)]
    response = register({**SDK_BODY, "redirect_uris": uris})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"
    assert applications() == before
    assert register({**SDK_BODY, "redirect_uris": uris[:10]}).status_code == 201
    settings.AUTHSERVER = {**settings.AUTHSERVER, "DCR_MAX_REDIRECT_URIS": 2}
    assert register({**SDK_BODY, "redirect_uris": uris[:3]}).json()["error"] == "invalid_redirect_uri"


# --- policies ---


def test_metadata_advertises_the_registration_endpoint(world, client, settings):
    data = client.get("/.well-known/oauth-authorization-server").json()
    assert data["registration_endpoint"] == settings.OAUTH_ISSUER + REGISTER_URL


def test_closed_policy(world, register, client, settings):
    use_policy(settings, "closed")
    response = register(SDK_BODY)
    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"
    assert "registration_endpoint" not in client.get("/.well-known/oauth-authorization-server").json()


@pytest.fixture
def initial_token(db):
    def issue(**fields) -> tuple[InitialAccessToken, str]:
        return registration.issue_initial_access_token("for tests", **fields)

    return issue


def test_token_policy_needs_an_initial_access_token(world, register, client, settings, initial_token):
    use_policy(settings, "token")
    _, raw = initial_token()
    missing = register(SDK_BODY)
    assert missing.status_code == 401 and missing["WWW-Authenticate"].startswith("Bearer")
    assert register(SDK_BODY, token="not-a-token").status_code == 401
    assert register(SDK_BODY, token=raw).status_code == 201
    assert "registration_endpoint" in client.get("/.well-known/oauth-authorization-server").json()


def test_initial_access_token_use_count(world, register, settings, initial_token):
    use_policy(settings, "token")
    row, raw = initial_token(max_uses=2)
    assert register(SDK_BODY, token=raw).status_code == 201
    # A failed registration does not spend a use.
    bad = register({**SDK_BODY, "redirect_uris": ["http://evil.example.test/cb"]}, token=raw)
    assert bad.json()["error"] == "invalid_redirect_uri"
    assert register(SDK_BODY, token=raw).status_code == 201
    assert register(SDK_BODY, token=raw).status_code == 401
    row.refresh_from_db()
    assert row.uses == 2


def test_initial_access_token_expiry(world, register, settings, initial_token):
    use_policy(settings, "token")
    _, raw = initial_token(expires_at=timezone.now() - timedelta(seconds=1))
    assert register(SDK_BODY, token=raw).status_code == 401


def test_initial_access_tokens_are_stored_as_checksums(initial_token):
    row, raw = initial_token()
    assert raw not in row.token_checksum and len(row.token_checksum) == 64


def test_registration_is_rate_limited_per_address(world, register, settings):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "DCR_RATE_LIMIT": 2}
    assert register(SDK_BODY).status_code == 201
    assert register({**SDK_BODY, "redirect_uris": ["javascript:x"]}).status_code == 400  # attempts count
    limited = register(SDK_BODY)
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert limited.json()["error"] == "temporarily_unavailable"
    assert register(SDK_BODY, REMOTE_ADDR="192.0.2.7").status_code == 201


def test_registration_rate_limit_counts_the_client_behind_a_trusted_proxy(world, register, settings):
    """Behind docs/deployment.md's nginx every request comes from the proxy: one bucket for everybody, unless
    the proxy is trusted to name the client."""
    settings.AUTHSERVER = {**settings.AUTHSERVER, "DCR_RATE_LIMIT": 1}
    settings.OBSERVABILITY = {**settings.OBSERVABILITY, "TRUSTED_PROXIES": ["127.0.0.1"]}
    assert register(SDK_BODY, HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 201
    assert register(SDK_BODY, HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429
    assert register(SDK_BODY, HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 201
    assert register(SDK_BODY, HTTP_X_FORWARDED_FOR="2001:db8:0:1::1").status_code == 201
    assert register(SDK_BODY, HTTP_X_FORWARDED_FOR="2001:db8:0:1::2").status_code == 429


# --- RFC 7592 management with the registration access token ---


def manage(client, body: dict, method: str = "get", token: str | None = None, data: dict | None = None):
    headers = {
        "HTTP_AUTHORIZATION": f"Bearer {token if token is not None else body['registration_access_token']}"
    }
    url = f"/oauth/register/{body['client_id']}/"
    if method == "put":
        return client.put(url, json.dumps(data), content_type="application/json", **headers)
    return getattr(client, method)(url, **headers)


def test_read(client, registered):
    body = registered()
    response = manage(client, body)
    assert response.status_code == 200
    read = response.json()
    assert read["client_id"] == body["client_id"]
    assert read["redirect_uris"] == body["redirect_uris"]
    assert read["scope"] == body["scope"]
    assert read["registration_access_token"] == body["registration_access_token"]
    assert response["Cache-Control"] == "no-store"


def test_read_needs_the_clients_own_token(client, registered):
    first, second = registered(), registered()
    assert manage(client, first, token="").status_code == 401
    assert manage(client, first, token="wrong").status_code == 401
    assert manage(client, first, token=second["registration_access_token"]).status_code == 401


def test_update(client, registered):
    body = registered()
    new = {
        **SDK_BODY,
        "client_id": body["client_id"],
        "client_name": "Renamed",
        "redirect_uris": [REDIRECT_URI],
    }
    response = manage(client, body, "put", data=new)
    assert response.status_code == 200, response.content
    updated = response.json()
    assert updated["client_name"] == "Renamed" and updated["redirect_uris"] == [REDIRECT_URI]
    assert updated["scope"] == body["scope"]  # the ceiling is the admin's, not the client's
    # The registration access token rotates on update.
    assert manage(client, body).status_code == 401
    assert manage(client, updated).status_code == 200


def test_update_is_held_to_the_same_rules(client, registered):
    body = registered()
    bad = {**SDK_BODY, "redirect_uris": ["http://evil.example.test/cb"]}
    response = manage(client, body, "put", data=bad)
    assert response.status_code == 400 and response.json()["error"] == "invalid_redirect_uri"
    response = manage(client, body, "put", data={**SDK_BODY, "grant_types": ["client_credentials"]})
    assert response.json()["error"] == "invalid_client_metadata"
    assert manage(client, body).json()["redirect_uris"] == SDK_BODY["redirect_uris"]  # unchanged, token kept


def test_update_is_held_to_the_size_depth_and_redirect_uri_limits(client, registered):
    body = registered()
    uris = [f"http://127.0.0.1:{9000 + n}/cb" for n in range(11)]
    many = {**SDK_BODY, "client_id": body["client_id"], "redirect_uris": uris}
    response = manage(client, body, "put", data=many)
    assert response.status_code == 400 and response.json()["error"] == "invalid_redirect_uri"
    url = f"/oauth/register/{body['client_id']}/"
    headers = {"HTTP_AUTHORIZATION": f"Bearer {body['registration_access_token']}"}

    def put(data: bytes):
        return client.put(url, data, content_type="application/json", **headers)

    deep = put(b"[" * 100_000 + b"]" * 100_000)
    assert deep.status_code in (400, 413) and deep.json()["error"] == "invalid_client_metadata"
    deep = put(b"[" * 8_000 + b"]" * 8_000)
    assert deep.status_code == 400 and deep.json()["error"] == "invalid_client_metadata"
    deep = put(json.dumps({**SDK_BODY, "x": json.loads("[" * 40 + "]" * 40)}).encode())
    assert deep.status_code == 400 and deep.json()["error"] == "invalid_client_metadata"
    big = put(json.dumps({**SDK_BODY, "client_name": "x" * 20_000}).encode())
    assert big.status_code == 413 and big.json()["error"] == "invalid_client_metadata"
    assert manage(client, body).json()["redirect_uris"] == SDK_BODY["redirect_uris"]  # unchanged, token kept


def test_delete(client, registered):
    body = registered()
    assert manage(client, body, "delete").status_code == 204
    assert not get_application_model().objects.filter(client_id=body["client_id"]).exists()
    assert not ClientPolicy.objects.filter(application__client_id=body["client_id"]).exists()
    assert manage(client, body).status_code == 401


def test_management_keeps_working_when_registration_closes(client, registered, settings):
    body = registered()
    use_policy(settings, "closed")
    assert manage(client, body).status_code == 200


def test_registration_tokens_are_not_access_tokens_for_mcp(registered, client):
    """The registration access token is an opaque DOT row, never a JWT the MCP server would accept."""
    body = registered()
    assert body["registration_access_token"].count(".") != 2
    token = get_access_token_model().objects.get(application__client_id=body["client_id"])
    assert token.scope == "oauth2_provider:registration"


# --- the admin's control over self-registered clients ---


@pytest.fixture
def admin_client(world, make_user):
    """A browser of its own: the flows under test sign other users in on the default client."""
    from django.test import Client

    browser = Client()
    browser.force_login(make_user("root", is_staff=True, is_superuser=True))
    return browser


def test_admin_lists_dynamic_clients_and_filters_them(admin_client, registered):
    body = registered(client_name="Self made")
    html = admin_client.get(
        "/admin/oauth2_provider/application/?registration_source__exact=dcr"
    ).content.decode()
    assert "Self made" in html and body["client_id"] in html
    assert "Web app" not in html  # made by an admin


def test_admin_disables_and_enables_a_dynamic_client(admin_client, world, registered, code_flow, post_token):
    body = registered(redirect_uris=[REDIRECT_URI])
    application = get_application_model().objects.get(client_id=body["client_id"])
    response = admin_client.post(
        "/admin/oauth2_provider/application/", {"action": "disable", "_selected_action": [application.pk]}
    )
    assert response.status_code == 302
    assert not ClientPolicy.objects.get(application=application).enabled
    refused = post_token({"grant_type": "authorization_code", "code": "x", "client_id": body["client_id"]})
    assert refused.status_code in (400, 401)
    admin_client.post(
        "/admin/oauth2_provider/application/", {"action": "enable", "_selected_action": [application.pk]}
    )
    assert ClientPolicy.objects.get(application=application).enabled


def test_disabling_revokes_tokens_and_refuses_new_grants(admin_client, world, code_flow, post_token):
    tokens = code_flow()
    web = world.clients["web"].application
    admin_client.post(
        "/admin/oauth2_provider/application/", {"action": "disable", "_selected_action": [web.pk]}
    )
    checksum = hashlib.sha256(tokens["access_token"].encode()).hexdigest()
    assert sharedstate.get(revoking.cache_key(checksum))
    refresh = post_token(
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": web.client_id}
    )
    assert refresh.status_code == 400
    service = world.clients["service"]
    admin_client.post(
        "/admin/oauth2_provider/application/",
        {"action": "disable", "_selected_action": [service.application.pk]},
    )
    denied = post_token({"grant_type": "client_credentials"}, auth=(service.client_id, service.client_secret))
    assert denied.status_code == 400 and denied.json()["error"] == "unauthorized_client"


def test_admin_restricts_a_dynamic_clients_ceiling(admin_client, world, registered, authorize, post_token):
    body = registered(redirect_uris=[REDIRECT_URI])
    policy = ClientPolicy.objects.get(application__client_id=body["client_id"])
    policy.scopes.set([world.scopes["mcp:read"]])  # what the inline saves
    verifier, challenge = pkce_pair()
    response = authorize(world.users["alice"], body["client_id"], "mcp:read mcp:tools", challenge)
    token = post_token(
        {
            "grant_type": "authorization_code",
            "code": redirect_params(response)["code"],
            "redirect_uri": REDIRECT_URI,
            "client_id": body["client_id"],
            "code_verifier": verifier,
        }
    ).json()
    assert token["scope"] == "mcp:read"


def test_admin_change_page_of_a_dynamic_client(admin_client, registered):
    application = get_application_model().objects.get(client_id=registered()["client_id"])
    html = admin_client.get(f"/admin/oauth2_provider/application/{application.pk}/change/").content.decode()
    assert "Dynamic Client Registration" in html and "scope ceiling" in html.lower()


def test_admin_creates_an_initial_access_token_shown_once(admin_client, register, settings):
    response = admin_client.post(
        "/admin/authserver/initialaccesstoken/add/",
        {"description": "for the IDE team", "max_uses": "1", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"] if "Initial access token" in str(m)]
    raw = shown[0].rsplit(" ", 1)[1]
    row = InitialAccessToken.objects.get()
    assert row.description == "for the IDE team" and row.token_checksum != raw
    use_policy(settings, "token")
    assert register(SDK_BODY, token=raw).status_code == 201
    assert (
        raw not in admin_client.get(f"/admin/authserver/initialaccesstoken/{row.pk}/change/").content.decode()
    )


def test_initial_access_token_command(world, register, settings):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command(
        "create_initial_access_token",
        "--description",
        "ops",
        "--max-uses",
        "1",
        "--expires-in",
        "60",
        stdout=out,
    )
    raw = out.getvalue().strip()
    row = InitialAccessToken.objects.get(description="ops")
    assert row.max_uses == 1 and row.expires_at > timezone.now()
    use_policy(settings, "token")
    assert register(SDK_BODY, token=raw).status_code == 201
    assert register(SDK_BODY, token=raw).status_code == 401
    with pytest.raises(CommandError):
        call_command("create_initial_access_token", "--description", "bad", "--max-uses", "0")


def test_dpop_bound_access_tokens_is_registered_and_enforced(registered, register, client):
    from authserver.models import ClientPolicy

    body = registered(dpop_bound_access_tokens=True)
    assert body["dpop_bound_access_tokens"] is True
    assert ClientPolicy.objects.get(application__client_id=body["client_id"]).dpop_bound_access_tokens
    assert "dpop_bound_access_tokens" not in registered()
    response = register({**SDK_BODY, "dpop_bound_access_tokens": "yes"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


# --- private_key_jwt (RFC 7523 §2.2) ---


def test_a_client_registers_its_public_keys_and_signs_assertions(registered, client):
    from tests.assertion_signer import Signer, credentials
    from urllib.parse import urlencode

    from tests.authserver.conftest import TOKEN_URL, pkce_pair

    signer = Signer("ES256")
    body = registered(token_endpoint_auth_method="private_key_jwt", jwks=signer.jwks)
    assert "client_secret" not in body and "client_secret_expires_at" not in body
    assert body["token_endpoint_auth_method"] == "private_key_jwt" and body["jwks"] == signer.jwks
    policy = ClientPolicy.objects.get(application__client_id=body["client_id"])
    assert policy.signs_assertions and policy.jwks == signer.jwks
    # The registration reads back the same (RFC 7592).
    headers = {"HTTP_AUTHORIZATION": f"Bearer {body['registration_access_token']}"}
    read = client.get(f"{REGISTER_URL}{body['client_id']}/", **headers).json()
    assert read["token_endpoint_auth_method"] == "private_key_jwt" and "client_secret" not in read
    # At the token endpoint it authenticates with an assertion, never without one.
    verifier, _ = pkce_pair()
    code_request = {"grant_type": "authorization_code", "code": "unknown", "code_verifier": verifier,
                    "redirect_uri": SDK_BODY["redirect_uris"][0]}  # fmt: skip
    form = "application/x-www-form-urlencoded"
    authenticated = client.post(
        TOKEN_URL, urlencode({**code_request, **credentials(signer.sign(body["client_id"]))}), content_type=form
    )
    assert authenticated.status_code == 400 and authenticated.json()["error"] == "invalid_grant"
    anonymous = client.post(TOKEN_URL, urlencode({**code_request, "client_id": body["client_id"]}), content_type=form)
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    "fields, fragment",
    [
        ({"token_endpoint_auth_method": "private_key_jwt"}, "exactly one"),
        ({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://keys.example/jwks.json",
          "jwks": {"keys": []}}, "exactly one"),  # fmt: skip
        ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
         "symmetric"),  # fmt: skip
        ({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://keys.example/jwks.json"}, "https"),
        ({"token_endpoint_auth_method": "none", "jwks_uri": "https://keys.example/jwks.json"}, "Only"),
    ],
)
def test_unusable_signing_metadata_is_refused(world, register, fields, fragment):
    before = applications()
    response = register({**SDK_BODY, **fields})
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_client_metadata"
    assert fragment in response.json()["error_description"]
    assert applications() == before


def test_private_key_material_is_refused_at_registration(world, register):
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    private = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1())))
    response = register({**SDK_BODY, "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [private]}})
    assert response.status_code == 400 and "private key material" in response.json()["error_description"]


def test_a_jwks_uri_client_can_be_registered(registered):
    body = registered(token_endpoint_auth_method="private_key_jwt", jwks_uri="https://keys.example/ci/jwks.json")
    assert body["jwks_uri"] == "https://keys.example/ci/jwks.json" and "client_secret" not in body


def test_rfc7592_update_replaces_the_keys(registered, client):
    from tests.assertion_signer import Signer

    first, second = Signer(), Signer()
    body = registered(token_endpoint_auth_method="private_key_jwt", jwks=first.jwks)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {body['registration_access_token']}"}
    update = {**SDK_BODY, "client_id": body["client_id"], "token_endpoint_auth_method": "private_key_jwt",
              "jwks": second.jwks}  # fmt: skip
    response = client.put(f"{REGISTER_URL}{body['client_id']}/", json.dumps(update), content_type="application/json", **headers)
    assert response.status_code == 200, response.content
    assert response.json()["jwks"] == second.jwks
    assert ClientPolicy.objects.get(application__client_id=body["client_id"]).jwks == second.jwks

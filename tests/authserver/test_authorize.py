"""Authorization code + PKCE through the login and consent pages, RFC 9207 ``iss`` and RFC 8707 resources."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django.utils import timezone
from oauth2_provider.models import get_application_model, get_grant_model

from .conftest import AUTHORIZE_URL, FORM, REDIRECT_URI, hidden_fields, pkce_pair, redirect_params

OTHER_RESOURCE = "https://api.example.test/other"
FOREIGN_RESOURCE = "https://evil.example.test/mcp"


def _exchange(post_token, world, code, verifier, **extra):
    return post_token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": world.clients["web"].client_id,
            "code_verifier": verifier,
            **extra,
        }
    )


def _code(world, authorize, user=None, scope="mcp:read mcp:tools", **params):
    verifier, challenge = pkce_pair()
    response = authorize(
        user or world.users["alice"], world.clients["web"].client_id, scope, challenge, **params
    )
    return verifier, redirect_params(response)


# --- login and the consent page ---


def test_code_flow_through_the_login_and_consent_pages(world, client, post_token, decode):
    """The whole browser path: /authorize → login page → consent page → redirect → token."""
    verifier, challenge = pkce_pair()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": world.clients["web"].client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "mcp:read mcp:tools",
            "state": "s1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    response = client.get(AUTHORIZE_URL + "?" + query)
    assert response.status_code == 302
    login_url = urlsplit(response["Location"])
    assert login_url.path == "/accounts/login/"
    next_url = parse_qs(login_url.query)["next"][0]
    assert next_url.startswith(AUTHORIZE_URL)

    login = client.get(response["Location"])
    assert login.status_code == 200
    form = {**hidden_fields(login.content), "username": "alice", "password": "alice-password"}
    signed_in = client.post("/accounts/login/", urlencode(form), content_type=FORM)
    assert signed_in.status_code == 302
    assert signed_in["Location"] == next_url

    consent = client.get(next_url)
    assert consent.status_code == 200
    assert consent.context["user"] == world.users["alice"]
    decision = {**hidden_fields(consent.content), "scopes": ["mcp:read", "mcp:tools"], "allow": "Authorize"}
    params = redirect_params(client.post(AUTHORIZE_URL, urlencode(decision, doseq=True), content_type=FORM))
    assert params["state"] == "s1"
    assert params["iss"] == settings.OAUTH_ISSUER

    token = post_token(
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
            "client_id": world.clients["web"].client_id,
            "code_verifier": verifier,
        }
    )
    assert token.status_code == 200, token.content
    assert token.json()["scope"] == "mcp:read mcp:tools"
    assert decode(token.json()["access_token"])["username"] == "alice"


def test_wrong_password_on_login_page_stays_on_login(world, client):
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_consent_page_names_client_host_and_scopes(world, client, authorize):
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    page = authorize.consent_page(world.clients["web"].client_id, "mcp:read mcp:tools", challenge)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Web app" in html
    assert "127.0.0.1:8765" in html
    assert "Read things" in html and "Call tools" in html
    assert 'name="scopes" value="mcp:read"' in html
    assert 'name="allow"' in html and 'name="deny"' in html
    hidden = hidden_fields(page.content)
    assert hidden["client_id"] == world.clients["web"].client_id
    assert hidden["code_challenge"] == challenge
    assert hidden["code_challenge_method"] == "S256"
    assert hidden["state"] == "state-123"


def test_consent_page_shows_only_scopes_the_user_may_grant(world, client, authorize):
    client.force_login(world.users["guest"])
    _, challenge = pkce_pair()
    page = authorize.consent_page(world.clients["web"].client_id, "mcp:read mcp:tools mcp:prompts", challenge)
    assert page.status_code == 200
    assert [name for name, _ in page.context["scope_items"]] == ["mcp:read"]
    assert "Call tools" not in page.content.decode()


def test_user_without_any_grantable_scope_gets_invalid_scope_redirect(world, client, authorize):
    client.force_login(world.users["nobody"])
    _, challenge = pkce_pair()
    response = authorize.consent_page(world.clients["web"].client_id, "mcp:read", challenge)
    params = redirect_params(response)
    assert response["Location"].startswith(REDIRECT_URI)
    assert params["error"] == "invalid_scope"
    assert params["state"] == "state-123"
    assert params["iss"] == settings.OAUTH_ISSUER


# --- the happy path ---


def test_code_flow_with_pkce_s256(world, authorize, post_token, decode):
    verifier, params = _code(world, authorize)
    assert params["state"] == "state-123"
    assert params["iss"] == settings.OAUTH_ISSUER
    assert params["code"]
    response = _exchange(post_token, world, params["code"], verifier)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["scope"] == "mcp:read mcp:tools"
    assert body["refresh_token"]
    claims = decode(body["access_token"])
    assert claims["sub"] == str(world.users["alice"].pk)
    assert claims["username"] == "alice"
    assert claims["client_id"] == world.clients["web"].client_id
    assert claims["aud"] == settings.MCP_RESOURCE_URL


def test_code_flow_refresh_rotates(world, code_flow, post_token):
    first = code_flow()
    response = post_token(
        {
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": world.clients["web"].client_id,
        }
    )
    assert response.status_code == 200, response.content
    assert response.json()["refresh_token"] != first["refresh_token"]


def test_unticking_a_scope_yields_a_token_without_it(world, code_flow, decode):
    body = code_flow(scope="mcp:read mcp:tools", ticked=["mcp:read"])
    assert body["scope"] == "mcp:read"
    assert decode(body["access_token"])["scope"] == "mcp:read"


def test_ticking_a_scope_that_was_not_shown_adds_nothing(world, code_flow):
    body = code_flow(scope="mcp:read", ticked=["mcp:read", "mcp:tools"])
    assert body["scope"] == "mcp:read"


def test_tampered_hidden_scope_cannot_widen_beyond_the_users_roles(world, client, authorize, post_token):
    client.force_login(world.users["guest"])
    verifier, challenge = pkce_pair()
    page = authorize.consent_page(world.clients["web"].client_id, "mcp:read", challenge)
    body = {**hidden_fields(page.content), "scope": "mcp:read mcp:tools mcp:prompts", "allow": "Authorize"}
    response = client.post(AUTHORIZE_URL, urlencode(body), content_type=FORM)
    params = redirect_params(response)
    if "code" in params:
        token = _exchange(post_token, world, params["code"], verifier)
        assert token.json().get("scope", "") in ("", "mcp:read")
    else:
        assert params["error"] in {"invalid_scope", "access_denied"}


def test_unticking_every_scope_is_a_denial(world, authorize):
    _, challenge = pkce_pair()
    response = authorize(
        world.users["alice"], world.clients["web"].client_id, "mcp:read", challenge, ticked=[]
    )
    params = redirect_params(response)
    assert params["error"] == "access_denied"
    assert params["iss"] == settings.OAUTH_ISSUER


def test_deny_returns_access_denied_with_state_and_iss(world, authorize):
    _, challenge = pkce_pair()
    response = authorize(
        world.users["alice"], world.clients["web"].client_id, "mcp:read", challenge, allow=False
    )
    assert response["Location"].startswith(REDIRECT_URI)
    params = redirect_params(response)
    assert params["error"] == "access_denied"
    assert params["state"] == "state-123"
    assert params["iss"] == settings.OAUTH_ISSUER
    assert "code" not in params


def test_the_user_in_the_session_is_the_subject(world, code_flow, decode):
    body = code_flow(user=world.users["guest"], scope="mcp:read")
    assert decode(body["access_token"])["sub"] == str(world.users["guest"].pk)


# --- PKCE ---


def test_plain_pkce_is_refused(world, client, authorize):
    client.force_login(world.users["alice"])
    response = authorize.consent_page(world.clients["web"].client_id, "mcp:read", "a" * 43, method="plain")
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        params = redirect_params(response)
        assert params["error"] == "invalid_request"
        assert params["iss"] == settings.OAUTH_ISSUER
    assert not get_grant_model().objects.exists()


def test_missing_code_challenge_is_refused(world, client, authorize):
    client.force_login(world.users["alice"])
    response = authorize.consent_page(world.clients["web"].client_id, "mcp:read", None)
    params = redirect_params(response)
    assert params["error"] == "invalid_request"
    assert params["state"] == "state-123"
    assert params["iss"] == settings.OAUTH_ISSUER


def test_tampered_plain_method_in_the_consent_form_is_refused(world, client, authorize, post_token):
    client.force_login(world.users["alice"])
    verifier, challenge = pkce_pair()
    page = authorize.consent_page(world.clients["web"].client_id, "mcp:read", challenge)
    body = {
        **hidden_fields(page.content),
        "code_challenge": verifier,
        "code_challenge_method": "plain",
        "scope_choice": "1",
        "scopes": "mcp:read",
        "allow": "Authorize",
    }
    response = client.post(AUTHORIZE_URL, urlencode(body), content_type=FORM)
    params = redirect_params(response)
    if "code" in params:
        token = _exchange(post_token, world, params["code"], verifier)
        assert token.status_code == 400
    else:
        assert params["error"] == "invalid_request"


def test_wrong_code_verifier_is_invalid_grant(world, authorize, post_token):
    _, params = _code(world, authorize)
    other_verifier, _ = pkce_pair()
    response = _exchange(post_token, world, params["code"], other_verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_missing_code_verifier_is_refused(world, authorize, post_token):
    _, params = _code(world, authorize)
    response = post_token(
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
            "client_id": world.clients["web"].client_id,
        }
    )
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_request", "invalid_grant"}


# --- codes and redirect URIs ---


def test_code_is_single_use(world, authorize, post_token):
    verifier, params = _code(world, authorize)
    assert _exchange(post_token, world, params["code"], verifier).status_code == 200
    again = _exchange(post_token, world, params["code"], verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_expired_code_is_invalid_grant(world, authorize, post_token):
    verifier, params = _code(world, authorize)
    get_grant_model().objects.update(expires=timezone.now() - timedelta(seconds=1))
    response = _exchange(post_token, world, params["code"], verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_code_of_a_user_deactivated_since_consent_is_refused(world, authorize, post_token):
    verifier, params = _code(world, authorize)
    world.users["alice"].is_active = False
    world.users["alice"].save()
    response = _exchange(post_token, world, params["code"], verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_no_scope_asked_gives_the_defaults_the_user_may_grant(world, client, authorize):
    client.force_login(world.users["guest"])
    _, challenge = pkce_pair()
    page = authorize.consent_page(world.clients["web"].client_id, "", challenge)
    assert page.status_code == 200
    assert [name for name, _ in page.context["scope_items"]] == ["mcp:read"]


def test_code_for_another_client_is_refused(world, authorize, post_token, make_client):
    other = make_client(
        "other web", "authorization-code", ["mcp:read"], public=True, redirect_uris=[REDIRECT_URI]
    )
    verifier, params = _code(world, authorize)
    response = _exchange(post_token, world, params["code"], verifier, client_id=other.client_id)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_wrong_redirect_uri_at_the_token_endpoint_is_invalid_grant(world, authorize, post_token):
    verifier, params = _code(world, authorize)
    response = _exchange(
        post_token, world, params["code"], verifier, redirect_uri="http://127.0.0.1:8765/other"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_unregistered_redirect_uri_is_not_followed(world, client):
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": world.clients["web"].client_id,
            "redirect_uri": "https://evil.example.test/cb",
            "scope": "mcp:read",
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    response = client.get(AUTHORIZE_URL + "?" + query)
    assert response.status_code == 400
    assert "evil.example.test" not in response.get("Location", "")


def test_unknown_client_id_is_not_redirected(world, client):
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": "no-such-client",
            "redirect_uri": REDIRECT_URI,
            "scope": "mcp:read",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    response = client.get(AUTHORIZE_URL + "?" + query)
    assert response.status_code in (400, 401)
    assert "Location" not in response


def test_unsupported_response_type_is_refused(world, client, authorize):
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    response = authorize.consent_page(
        world.clients["web"].client_id, "mcp:read", challenge, response_type="token"
    )
    if response.status_code == 302:
        assert redirect_params(response)["error"] in {"unsupported_response_type", "unauthorized_client"}
    else:
        assert response.status_code == 400


def test_authorize_with_a_client_of_another_grant_type_is_refused(world, client, authorize):
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    response = authorize.consent_page(world.clients["cli"].client_id, "mcp:read", challenge)
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert not response["Location"].startswith(REDIRECT_URI) or "error=" in response["Location"]


# --- RFC 8707 resource indicators ---


def test_resource_at_authorize_becomes_the_audience(world, code_flow, decode):
    body = code_flow(resource=settings.MCP_RESOURCE_URL)
    assert decode(body["access_token"])["aud"] == settings.MCP_RESOURCE_URL


@pytest.fixture
def two_resources(settings):
    settings.AUTHSERVER = {
        **settings.AUTHSERVER,
        "ALLOWED_RESOURCES": [settings.MCP_RESOURCE_URL, OTHER_RESOURCE],
    }


def test_another_allowed_resource_becomes_the_audience(world, two_resources, code_flow, decode):
    body = code_flow(resource=OTHER_RESOURCE)
    assert decode(body["access_token"], audience=OTHER_RESOURCE)["aud"] == OTHER_RESOURCE


def test_resource_only_at_the_token_endpoint(world, two_resources, code_flow, decode):
    body = code_flow(token_params={"resource": OTHER_RESOURCE})
    assert decode(body["access_token"], audience=OTHER_RESOURCE)["aud"] == OTHER_RESOURCE


def test_foreign_resource_at_authorize_redirects_with_invalid_target(world, client, authorize):
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    response = authorize.consent_page(
        world.clients["web"].client_id, "mcp:read", challenge, resource=FOREIGN_RESOURCE
    )
    params = redirect_params(response)
    assert response["Location"].startswith(REDIRECT_URI)
    assert params["error"] == "invalid_target"
    assert params["state"] == "state-123"
    assert params["iss"] == settings.OAUTH_ISSUER
    assert not get_grant_model().objects.exists()


def test_foreign_resource_in_a_tampered_consent_form_is_refused(world, client, authorize):
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    page = authorize.consent_page(
        world.clients["web"].client_id, "mcp:read", challenge, resource=settings.MCP_RESOURCE_URL
    )
    body = {
        **hidden_fields(page.content),
        "resource": FOREIGN_RESOURCE,
        "scope_choice": "1",
        "scopes": "mcp:read",
        "allow": "Authorize",
    }
    response = client.post(AUTHORIZE_URL, urlencode(body), content_type=FORM)
    params = redirect_params(response)
    assert params["error"] == "invalid_target"
    assert params["iss"] == settings.OAUTH_ISSUER
    assert not get_grant_model().objects.exists()


def test_foreign_resource_at_the_token_endpoint_is_invalid_target(world, authorize, post_token):
    verifier, params = _code(world, authorize)
    response = _exchange(post_token, world, params["code"], verifier, resource=FOREIGN_RESOURCE)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


def test_token_request_cannot_widen_beyond_the_resource_bound_to_the_code(
    world, two_resources, authorize, post_token
):
    verifier, params = _code(world, authorize, resource=settings.MCP_RESOURCE_URL)
    response = _exchange(post_token, world, params["code"], verifier, resource=OTHER_RESOURCE)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


def test_refresh_keeps_the_bound_resource_and_refuses_another(
    world, two_resources, code_flow, post_token, decode
):
    first = code_flow(resource=OTHER_RESOURCE)
    web = world.clients["web"].client_id
    widened = post_token(
        {
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": web,
            "resource": settings.MCP_RESOURCE_URL,
        }
    )
    assert widened.status_code == 400
    assert widened.json()["error"] == "invalid_target"
    kept = post_token(
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": web}
    )
    assert kept.status_code == 200, kept.content
    assert decode(kept.json()["access_token"], audience=OTHER_RESOURCE)["aud"] == OTHER_RESOURCE


def test_resource_on_client_credentials(world, two_resources, cc_token, post_token, decode):
    assert (
        decode(cc_token(resource=OTHER_RESOURCE)["access_token"], audience=OTHER_RESOURCE)["aud"]
        == OTHER_RESOURCE
    )
    service = world.clients["service"]
    response = post_token(
        {"grant_type": "client_credentials", "resource": FOREIGN_RESOURCE},
        (service.client_id, service.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


def test_a_repeated_resource_is_one_audience(world, cc_token, decode):
    body = cc_token(resource=[settings.MCP_RESOURCE_URL, settings.MCP_RESOURCE_URL])
    assert decode(body["access_token"])["aud"] == settings.MCP_RESOURCE_URL


def test_resource_on_password_grant(world, password_token, post_token, decode):
    body = password_token("alice", resource=settings.MCP_RESOURCE_URL)
    assert decode(body["access_token"])["aud"] == settings.MCP_RESOURCE_URL
    response = post_token(
        {
            "grant_type": "password",
            "client_id": world.clients["cli"].client_id,
            "username": "alice",
            "password": "alice-password",
            "resource": FOREIGN_RESOURCE,
        }
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


# --- a tampered or incomplete consent form ---


def _consent_form(world, client, authorize):
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    page = authorize.consent_page(world.clients["web"].client_id, "mcp:read", challenge)
    return {**hidden_fields(page.content), "scopes": "mcp:read"}


@pytest.mark.parametrize(
    "field, value",
    [
        ("redirect_uri", "https://evil.example.test/cb"),
        ("client_id", "no-such-client"),
    ],
)
@pytest.mark.parametrize("decision", ["allow", "deny"])
def test_tampered_consent_form_is_not_redirected(world, client, authorize, field, value, decision):
    body = {**_consent_form(world, client, authorize), field: value, decision: "x"}
    response = client.post(AUTHORIZE_URL, urlencode(body), content_type=FORM)
    assert response.status_code == 400
    assert "Location" not in response
    assert not get_grant_model().objects.exists()


@pytest.mark.parametrize(
    "body", ["", "allow=Authorize", "client_id=x&redirect_uri=http%3A%2F%2Fx%2F&allow=Authorize"]
)
def test_incomplete_consent_form_is_an_error_page(world, client, body):
    client.force_login(world.users["alice"])
    response = client.post(AUTHORIZE_URL, body, content_type=FORM)
    assert response.status_code == 400
    assert "Authorization failed" in response.content.decode()


def test_consent_post_is_csrf_protected(world, authorize):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.users["alice"])
    verifier, challenge = pkce_pair()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": world.clients["web"].client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "mcp:read",
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    page = strict.get(AUTHORIZE_URL + "?" + query)
    fields = {**hidden_fields(page.content), "scopes": "mcp:read", "allow": "Authorize"}
    without_token = {k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"}
    assert strict.post(AUTHORIZE_URL, urlencode(without_token), content_type=FORM).status_code == 403
    response = strict.post(AUTHORIZE_URL, urlencode(fields), content_type=FORM)
    assert "code" in redirect_params(response)


# --- redirect URIs: https, or http to loopback only ---


def _client_with_redirect(uri: str):
    from authserver.models import ClientPolicy, Scope

    Application = get_application_model()
    application = Application.objects.create(
        name="legacy",
        client_type=Application.CLIENT_PUBLIC,
        redirect_uris=uri,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
    )
    ClientPolicy.objects.create(application=application).scopes.set(Scope.objects.all())
    return application


@pytest.mark.parametrize(
    "uri, allowed",
    [
        ("https://app.example.test/cb", True),
        ("http://127.0.0.1:9999/cb", True),
        ("http://localhost:6274/oauth/callback", True),
        ("http://[::1]:8080/cb", True),
        ("http://app.example.test/cb", False),
        ("http://127.0.0.1.evil.example.test/cb", False),
    ],
)
def test_plain_http_redirect_only_to_loopback(world, client, authorize, uri, allowed):
    application = _client_with_redirect(uri)  # as an admin or an older release might have stored it
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    for redirect in ({"redirect_uri": uri}, {}):
        query = {
            "response_type": "code",
            "client_id": application.client_id,
            "scope": "mcp:read",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **redirect,
        }
        response = client.get(AUTHORIZE_URL + "?" + urlencode(query))
        assert response.status_code == (200 if allowed else 400), (uri, redirect, response.get("Location"))


@pytest.mark.parametrize("state", ["a+b c&d=e/f?g", "ü–✓", "x" * 300])
def test_state_round_trips_exactly(world, authorize, state):
    _, challenge = pkce_pair()
    response = authorize(
        world.users["alice"], world.clients["web"].client_id, "mcp:read", challenge, state=state
    )
    params = redirect_params(response)
    assert params["state"] == state
    assert params["iss"] == settings.OAUTH_ISSUER


def test_registered_redirect_query_is_kept(world, authorize, make_client, post_token):
    uri = "http://127.0.0.1:8765/callback?tenant=a%20b"
    app = make_client("tenant app", "authorization-code", ["mcp:read"], public=True, redirect_uris=[uri])
    verifier, challenge = pkce_pair()
    response = authorize(world.users["alice"], app.client_id, "mcp:read", challenge, redirect_uri=uri)
    params = redirect_params(response)
    assert params["tenant"] == "a b"
    assert list(parse_qs(urlsplit(response["Location"]).query)["iss"]) == [settings.OAUTH_ISSUER]
    token = post_token(
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": uri,
            "client_id": app.client_id,
            "code_verifier": verifier,
        }
    )
    assert token.status_code == 200, token.content

"""Remembered consent, its withdrawal on the account page, and the protections of the pages people see."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

import sharedstate
from authserver import consents
from authserver.models import Consent

from .conftest import AUTHORIZE_URL, FORM, REDIRECT_URI, hidden_fields, pkce_pair, redirect_params


@pytest.fixture
def consent_flow(world, client, post_token):
    """Authorize ``web`` for a user through the consent page, optionally remembering the decision."""

    def run(scope="mcp:read mcp:tools", ticked=None, remember=True, allow=True, user=None, **params) -> dict:
        user = user or world.users["alice"]
        client.force_login(user)
        verifier, challenge = pkce_pair()
        page = open_page(client, world, challenge, scope, **params)
        assert page.status_code == 200, (page.status_code, page.get("Location"))
        shown = [name for name, _ in page.context["scope_items"]]
        body = {
            **hidden_fields(page.content),
            "scope_choice": "1",
            "scopes": shown if ticked is None else ticked,
        }
        body["allow" if allow else "deny"] = "Authorize" if allow else "Deny"
        if remember:
            body["remember"] = "1"
        response = client.post(AUTHORIZE_URL, urlencode(body, doseq=True), content_type=FORM)
        params = redirect_params(response)
        if "code" not in params:
            return params
        return exchange(post_token, world, params["code"], verifier)

    return run


def open_page(client, world, challenge, scope, **params):
    query = {
        "response_type": "code",
        "client_id": world.clients["web"].client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": "s-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    return client.get(AUTHORIZE_URL + "?" + urlencode(query, doseq=True))


def exchange(post_token, world, code, verifier) -> dict:
    response = post_token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": world.clients["web"].client_id,
            "code_verifier": verifier,
        }
    )
    assert response.status_code == 200, response.content
    return response.json()


def consent_of(world, username="alice") -> set[str] | None:
    consent = Consent.objects.filter(
        user=world.users[username], application=world.clients["web"].application
    ).first()
    return consent.scope_names() if consent else None


# --- remembering ---


def test_an_approval_is_remembered_only_when_asked(world, consent_flow):
    consent_flow(remember=False)
    assert consent_of(world) is None
    consent_flow()
    assert consent_of(world) == {"mcp:read", "mcp:tools"}


def test_a_remembered_consent_skips_the_page_for_the_same_or_fewer_scopes(
    world, client, consent_flow, post_token
):
    consent_flow()
    for scope in ("mcp:read mcp:tools", "mcp:read"):
        verifier, challenge = pkce_pair()
        response = open_page(client, world, challenge, scope)
        params = redirect_params(response)  # straight back to the client, no page
        assert params["state"] == "s-1" and params["iss"] == settings.OAUTH_ISSUER
        assert exchange(post_token, world, params["code"], verifier)["scope"] == scope


def test_more_scopes_than_remembered_show_the_page(world, client, consent_flow):
    consent_flow(ticked=["mcp:read"])
    assert consent_of(world) == {"mcp:read"}
    _, challenge = pkce_pair()
    assert open_page(client, world, challenge, "mcp:read mcp:tools").status_code == 200


def test_prompt_consent_always_shows_the_page(world, client, consent_flow):
    consent_flow()
    _, challenge = pkce_pair()
    assert open_page(client, world, challenge, "mcp:read", prompt="consent").status_code == 200


def test_a_remembered_consent_is_per_user_and_per_client(world, client, consent_flow, make_user):
    consent_flow()
    client.force_login(make_user("dave", ["writer"]))
    _, challenge = pkce_pair()
    assert open_page(client, world, challenge, "mcp:read").status_code == 200


def test_approvals_accumulate(world, consent_flow):
    consent_flow(ticked=["mcp:read"])
    consent_flow(scope="mcp:tools")
    assert consent_of(world) == {"mcp:read", "mcp:tools"}


def test_deny_is_never_remembered(world, consent_flow):
    params = consent_flow(allow=False)
    assert params["error"] == "access_denied"
    assert consent_of(world) is None


def test_skipping_still_narrows_to_todays_roles(world, client, consent_flow, post_token):
    consent_flow()
    world.users["alice"].roles.set([world.roles["reader"]])
    verifier, challenge = pkce_pair()
    params = redirect_params(open_page(client, world, challenge, "mcp:read mcp:tools"))
    assert exchange(post_token, world, params["code"], verifier)["scope"] == "mcp:read"


def test_skipping_keeps_the_resource(world, client, consent_flow, post_token, decode):
    consent_flow()
    verifier, challenge = pkce_pair()
    params = redirect_params(
        open_page(client, world, challenge, "mcp:read", resource=settings.MCP_RESOURCE_URL)
    )
    token = exchange(post_token, world, params["code"], verifier)
    assert decode(token["access_token"])["aud"] == settings.MCP_RESOURCE_URL


def test_skipping_refuses_a_foreign_resource(world, client, consent_flow):
    consent_flow()
    _, challenge = pkce_pair()
    response = open_page(client, world, challenge, "mcp:read", resource="https://elsewhere.example.test/mcp")
    assert redirect_params(response)["error"] == "invalid_target"


# --- only a remembered consent skips the page (not a live token, not approval_prompt) ---

OTHER_RESOURCE = "https://api.example.test/other"


def test_an_approval_not_remembered_never_skips_the_page(world, client, consent_flow):
    """The review's reproduction: DOT's ``approval_prompt=auto`` reused any live token."""
    consent_flow(remember=False)
    for extra in ({"approval_prompt": "auto"}, {"approval_prompt": "auto", "prompt": "consent"}):
        _, challenge = pkce_pair()
        response = open_page(client, world, challenge, "mcp:read mcp:tools", **extra)
        assert response.status_code == 200, (extra, response.get("Location"))


def test_approval_prompt_auto_as_the_default_reuses_no_token(world, client, consent_flow, settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "REQUEST_APPROVAL_PROMPT": "auto"}
    consent_flow(remember=False)
    _, challenge = pkce_pair()
    assert open_page(client, world, challenge, "mcp:read").status_code == 200


def test_a_remembered_consent_is_per_resource(world, client, consent_flow, settings):
    settings.AUTHSERVER = {
        **settings.AUTHSERVER,
        "ALLOWED_RESOURCES": [settings.MCP_RESOURCE_URL, OTHER_RESOURCE],
    }
    consent_flow(resource=settings.MCP_RESOURCE_URL)
    assert Consent.objects.get().resource == settings.MCP_RESOURCE_URL
    _, challenge = pkce_pair()
    assert open_page(client, world, challenge, "mcp:read", resource=OTHER_RESOURCE).status_code == 200
    both = [settings.MCP_RESOURCE_URL, OTHER_RESOURCE]
    assert open_page(client, world, challenge, "mcp:read", resource=both).status_code == 200
    assert "code" in redirect_params(open_page(client, world, challenge, "mcp:read"))  # the default resource
    consent_flow(resource=OTHER_RESOURCE)
    assert "code" in redirect_params(open_page(client, world, challenge, "mcp:read", resource=both))


def test_a_consent_without_a_resource_is_for_the_default_resource(world, consent_flow, settings):
    consent_flow()
    assert Consent.objects.get().resource == settings.MCP_RESOURCE_URL


def test_an_admins_skip_authorization_still_skips_the_page(world, client):
    """An administrator's decision for a first-party client (the Django admin's switch), kept on purpose."""
    application = world.clients["web"].application
    application.skip_authorization = True
    application.save()
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    assert "code" in redirect_params(open_page(client, world, challenge, "mcp:read", prompt="none"))


# --- prompt=none, prompt=login (OpenID Connect Core §3.1.2.1, §3.1.2.6) ---


def _error_redirect(response, error: str) -> None:
    assert response["Location"].startswith(REDIRECT_URI + "?")
    params = redirect_params(response)
    assert params["error"] == error and params["state"] == "s-1"
    assert params["iss"] == settings.OAUTH_ISSUER
    assert "code" not in params


def test_prompt_none_without_a_session_is_login_required(world, client):
    _, challenge = pkce_pair()
    _error_redirect(open_page(client, world, challenge, "mcp:read", prompt="none"), "login_required")


def test_prompt_none_without_remembered_consent_is_consent_required(world, client, consent_flow):
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    _error_redirect(open_page(client, world, challenge, "mcp:read", prompt="none"), "consent_required")
    consent_flow(remember=False)
    response = open_page(client, world, challenge, "mcp:read", prompt="none", approval_prompt="auto")
    _error_redirect(response, "consent_required")


def test_prompt_none_with_remembered_consent_answers_at_once(world, client, consent_flow, post_token):
    consent_flow()
    verifier, challenge = pkce_pair()
    params = redirect_params(open_page(client, world, challenge, "mcp:read", prompt="none"))
    assert exchange(post_token, world, params["code"], verifier)["scope"] == "mcp:read"


def test_prompt_none_with_consent_for_fewer_scopes_is_consent_required(world, client, consent_flow):
    consent_flow(ticked=["mcp:read"])
    _, challenge = pkce_pair()
    response = open_page(client, world, challenge, "mcp:read mcp:tools", prompt="none")
    _error_redirect(response, "consent_required")


def test_prompt_none_with_other_values_is_invalid_request(world, client):
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    _error_redirect(open_page(client, world, challenge, "mcp:read", prompt="none consent"), "invalid_request")


@pytest.mark.parametrize("signed_in", [False, True])
def test_prompt_none_never_redirects_to_an_unregistered_uri(world, client, signed_in):
    if signed_in:
        client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    for wrong in ({"redirect_uri": "https://evil.example.test/cb"}, {"client_id": "no-such-client"}):
        response = open_page(client, world, challenge, "mcp:read", prompt="none", **wrong)
        assert response.status_code == 400, (wrong, response.get("Location"))


def test_prompt_login_signs_the_user_in_again_then_continues(world, client, consent_flow):
    consent_flow()  # remembered: after signing in again, no page
    _, challenge = pkce_pair()
    response = open_page(client, world, challenge, "mcp:read", prompt="login consent")
    assert response.status_code == 302 and urlsplit(response["Location"]).path == "/accounts/login/"
    assert "_auth_user_id" not in client.session  # signed out: the login page asks again
    next_url = parse_qs(urlsplit(response["Location"]).query)["next"][0]
    assert parse_qs(urlsplit(next_url).query)["prompt"] == ["consent"]  # login is satisfied, consent kept
    login = client.get(response["Location"])
    assert login.status_code == 200
    form = {**hidden_fields(login.content), "username": "alice", "password": "alice-password"}
    signed_in = client.post("/accounts/login/", urlencode(form), content_type=FORM)
    assert signed_in["Location"] == next_url
    assert client.get(next_url).status_code == 200  # the consent page, once: no loop back to login


def test_prompt_login_keeps_every_resource(world, client, settings):
    settings.AUTHSERVER = {
        **settings.AUTHSERVER,
        "ALLOWED_RESOURCES": [settings.MCP_RESOURCE_URL, OTHER_RESOURCE],
    }
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    both = [settings.MCP_RESOURCE_URL, OTHER_RESOURCE]
    response = open_page(client, world, challenge, "mcp:read", prompt="login", resource=both)
    next_url = parse_qs(urlsplit(response["Location"]).query)["next"][0]
    query = parse_qs(urlsplit(next_url).query)
    assert query["resource"] == both and "prompt" not in query


# --- the account page and withdrawal ---


def test_account_page_lists_consents_with_a_withdraw_form(world, client, consent_flow):
    consent_flow()
    consent = Consent.objects.get()
    html = client.get("/accounts/").content.decode()
    assert "Web app" in html and "mcp:tools" in html
    assert f'action="/accounts/consents/{consent.pk}/withdraw/"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_withdraw_revokes_the_clients_tokens_for_that_user(
    world, client, consent_flow, post_token, password_token
):
    tokens = consent_flow()
    other_client_token = password_token("alice")["access_token"]  # another client: untouched
    consent = Consent.objects.get()
    response = client.post(f"/accounts/consents/{consent.pk}/withdraw/")
    assert response.status_code == 302 and response["Location"] == "/accounts/"
    assert not Consent.objects.exists()
    checksum = hashlib.sha256(tokens["access_token"].encode()).hexdigest()
    assert sharedstate.get(settings.TOKEN_REVOCATION_PREFIX + checksum)  # refused by every resource server
    assert not get_access_token_model().objects.filter(token_checksum=checksum).exists()
    web = world.clients["web"].client_id
    refresh = post_token(
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": web}
    )
    assert refresh.status_code == 400
    other = hashlib.sha256(other_client_token.encode()).hexdigest()
    assert get_access_token_model().objects.filter(token_checksum=other).exists()
    assert "withdrawn" in client.get("/accounts/").content.decode()


def test_withdraw_then_the_page_is_shown_again(world, client, consent_flow):
    consent_flow()
    client.post(f"/accounts/consents/{Consent.objects.get().pk}/withdraw/")
    _, challenge = pkce_pair()
    assert open_page(client, world, challenge, "mcp:read").status_code == 200


def test_withdraw_needs_csrf(world, consent_flow, client):
    consent_flow()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.users["alice"])
    consent = Consent.objects.get()
    assert strict.post(f"/accounts/consents/{consent.pk}/withdraw/").status_code == 403
    assert Consent.objects.exists()


def test_withdraw_is_post_only_and_only_ones_own(world, client, consent_flow, make_user):
    consent_flow()
    consent = Consent.objects.get()
    assert client.get(f"/accounts/consents/{consent.pk}/withdraw/").status_code == 405
    client.force_login(make_user("mallory", ["writer"]))
    assert client.post(f"/accounts/consents/{consent.pk}/withdraw/").status_code == 404
    assert Consent.objects.exists()


def test_withdraw_revokes_refresh_tokens_of_earlier_approvals(world, consent_flow):
    consent_flow()
    consent_flow(remember=False, prompt="consent")
    assert get_refresh_token_model().objects.filter(revoked__isnull=True).count() == 2
    assert consents.withdraw(Consent.objects.get()) == 4
    assert not get_refresh_token_model().objects.filter(revoked__isnull=True).exists()


# --- login, consent and account pages: clickjacking, CSRF, no script, labels ---


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inputs, self.labels, self.scripts, self.ids = [], set(), 0, set()
        self._label_depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "script":
            self.scripts += 1
        if tag == "label":
            self._label_depth += 1
            if attrs.get("for"):
                self.labels.add(attrs["for"])
        if tag in {"input", "select", "textarea"} and attrs.get("type") != "hidden":
            self.inputs.append((attrs, self._label_depth > 0))

    def handle_endtag(self, tag):
        if tag == "label":
            self._label_depth -= 1


def _pages(world, client, consent_flow):
    anonymous = Client().get("/accounts/login/")
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    consent_page = open_page(client, world, challenge, "mcp:read mcp:tools")
    consent_flow()
    return {"login": anonymous, "consent": consent_page, "account": client.get("/accounts/")}


def test_pages_cannot_be_framed_and_run_no_script(world, client, consent_flow):
    for name, response in _pages(world, client, consent_flow).items():
        assert response.status_code == 200, name
        assert response["X-Frame-Options"] == "DENY", name
        csp = response["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp and "script-src" not in csp, (
            name
        )
        assert "no-store" in response["Cache-Control"], name
        page = _Page()
        page.feed(response.content.decode())
        assert page.scripts == 0, name


def test_every_field_has_a_label(world, client, consent_flow):
    for name, response in _pages(world, client, consent_flow).items():
        page = _Page()
        page.feed(response.content.decode())
        for attrs, wrapped in page.inputs:
            assert wrapped or attrs.get("id") in page.labels, (name, attrs)


def test_pages_carry_csrf_tokens_and_one_look(world, client, consent_flow):
    for name, response in _pages(world, client, consent_flow).items():
        html = response.content.decode()
        assert 'name="csrfmiddlewaretoken"' in html, name
        assert "<header>MCP authorization server</header>" in html, name
        assert re.search(r"<title>[^<]+ · MCP authorization server</title>", html), name


def test_consent_page_focus_order_is_the_reading_order(world, client):
    """No tabindex anywhere: keyboard focus follows the document (scopes, remember, allow, deny)."""
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    html = open_page(client, world, challenge, "mcp:read mcp:tools").content.decode()
    assert "tabindex" not in html
    order = [
        html.index(marker)
        for marker in ('value="mcp:read"', 'name="remember"', 'name="allow"', 'name="deny"')
    ]
    assert order == sorted(order)


def test_consent_page_shows_client_redirect_host_and_scope_descriptions(world, client):
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    html = open_page(client, world, challenge, "mcp:read mcp:tools").content.decode()
    assert "Web app" in html and "127.0.0.1:8765" in html
    assert "Read things" in html and "Call tools" in html
    assert 'name="remember" value="1" checked' in html

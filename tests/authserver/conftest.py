"""Fixtures for the authorization server's in-process tests: a small policy world and HTTP helpers.

The world is deliberately uneven so that narrowing is visible: the ``writer`` role lacks
``mcp:prompts``, the ``reader`` role has only ``mcp:read``, ``mcp:admin`` is not a default scope and
no role grants it, and each client's ceiling leaves something out.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import jwt
import pytest
from django.conf import settings

TOKEN_URL = "/oauth/token/"
AUTHORIZE_URL = "/oauth/authorize/"
FORM = "application/x-www-form-urlencoded"
REDIRECT_URI = "http://127.0.0.1:8765/callback"


def basic(client_id: str, secret: str) -> str:
    """An RFC 6749 §2.3.1 HTTP Basic header value (form-urlencoded id and secret)."""
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge (RFC 7636 §4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def rotated_long_ago(refresh_token: str, seconds: int = 3600) -> None:
    """Move a rotated refresh token's rotation ``seconds`` into the past: out of any grace window."""
    from datetime import timedelta

    from django.db.models import F
    from oauth2_provider.models import get_refresh_token_model

    checksum = hashlib.sha256(refresh_token.encode()).hexdigest()
    rows = get_refresh_token_model().objects.filter(token_checksum=checksum)
    assert rows.filter(revoked__isnull=False).update(revoked=F("revoked") - timedelta(seconds=seconds)) == 1


def redirect_params(response) -> dict[str, str]:
    """The query parameters of a redirect's Location, one value each."""
    assert response.status_code == 302, (response.status_code, response.content[:500])
    return {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}


class _HiddenInputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name"):
            self.values[attrs["name"]] = attrs.get("value") or ""


def hidden_fields(html: bytes) -> dict[str, str]:
    """The hidden inputs of a rendered form (the consent page keeps the request in them)."""
    parser = _HiddenInputs()
    parser.feed(html.decode())
    return parser.values


@dataclass
class World:
    scopes: dict[str, Any]
    roles: dict[str, Any]
    users: dict[str, Any]
    clients: dict[str, Any]


@pytest.fixture
def make_role(db):
    from authserver.models import Role, Scope

    def make(name: str, scopes: list[str] = ()) -> Role:
        role = Role.objects.create(name=name, description=name)
        role.scopes.set(Scope.objects.filter(name__in=scopes))
        return role

    return make


@pytest.fixture
def world(make_scope, make_role, make_user, make_client) -> World:
    scopes = {
        "mcp:read": make_scope("mcp:read", "Read things"),
        "mcp:tools": make_scope("mcp:tools", "Call tools"),
        "mcp:prompts": make_scope("mcp:prompts", "Use prompts"),
        "mcp:admin": make_scope("mcp:admin", "Administer", is_default=False),
    }
    roles = {
        "writer": make_role("writer", ["mcp:read", "mcp:tools"]),
        "reader": make_role("reader", ["mcp:read"]),
        "prompter": make_role("prompter", ["mcp:prompts"]),
    }
    users = {
        "alice": make_user("alice", ["writer"]),
        "guest": make_user("guest", ["reader"]),
        "nobody": make_user("nobody", []),
    }
    clients = {
        # confidential, client_credentials, ceiling read+tools+admin (no prompts)
        # (a resource server too: an administrator allowed it to introspect)
        "service": make_client(
            "service", "client-credentials", ["mcp:read", "mcp:tools", "mcp:admin"], may_introspect=True
        ),
        # public, password grant, ceiling read+tools+prompts
        "cli": make_client("cli", "password", ["mcp:read", "mcp:tools", "mcp:prompts"], public=True),
        # confidential, password grant (may revoke its tokens; not allowed to introspect)
        "backend": make_client("backend", "password", ["mcp:read", "mcp:tools", "mcp:prompts"]),
        # public, authorization code
        "web": make_client(
            "Web app",
            "authorization-code",
            ["mcp:read", "mcp:tools", "mcp:prompts"],
            public=True,
            redirect_uris=[REDIRECT_URI],
        ),
    }
    return World(scopes, roles, users, clients)


@pytest.fixture
def post_token(client):
    """POST a form body to the token endpoint, optionally with HTTP Basic client authentication."""

    def post(data: dict | list, auth: tuple[str, str] | None = None, **extra):
        if auth is not None:
            extra["HTTP_AUTHORIZATION"] = basic(*auth)
        return client.post(TOKEN_URL, urlencode(data, doseq=True), content_type=FORM, **extra)

    return post


@pytest.fixture
def cc_token(world, post_token):
    """A client_credentials token response body for the ``service`` client."""

    def issue(**data) -> dict:
        service = world.clients["service"]
        response = post_token(
            {"grant_type": "client_credentials", **data}, (service.client_id, service.client_secret)
        )
        assert response.status_code == 200, response.content
        return response.json()

    return issue


@pytest.fixture
def password_token(world, post_token):
    """A password-grant token response body through the public ``cli`` client."""

    def issue(username: str = "alice", **data) -> dict:
        body = {
            "grant_type": "password",
            "client_id": world.clients["cli"].client_id,
            "username": username,
            "password": f"{username}-password",
            **data,
        }
        response = post_token(body)
        assert response.status_code == 200, response.content
        return response.json()

    return issue


@pytest.fixture
def decode(client):
    """Verify a JWT against the published JWKS, the issuer and the expected audience."""

    def run(token: str, audience: str | None = None) -> dict:
        kid = jwt.get_unverified_header(token)["kid"]
        published = {k["kid"]: k for k in client.get("/.well-known/jwks.json").json()["keys"]}
        assert kid in published, "the signing key is not in the JWKS"
        key = jwt.PyJWK(published[kid]).key
        return jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            issuer=settings.OAUTH_ISSUER,
            audience=audience or settings.MCP_RESOURCE_URL,
        )

    return run


@pytest.fixture
def authorize(client):
    """Drive /oauth/authorize/ for a signed-in user: GET the consent page, then POST the form.

    ``choose`` maps the rendered hidden fields to the POST body; by default every shown scope stays
    ticked and the user allows. Returns the final redirect response.
    """

    def consent_page(client_id: str, scope: str, challenge: str | None, method: str = "S256", **params):
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": scope,
            "state": "state-123",
            **params,
        }
        if challenge is not None:
            query.update(code_challenge=challenge, code_challenge_method=method)
        return client.get(AUTHORIZE_URL + "?" + urlencode(query, doseq=True))

    def run(
        user,
        client_id: str,
        scope: str,
        challenge: str,
        ticked: list[str] | None = None,
        allow: bool = True,
        **params,
    ):
        client.force_login(user)
        page = consent_page(client_id, scope, challenge, **params)
        assert page.status_code == 200, (page.status_code, page.get("Location"), page.content[:500])
        shown = [name for name, _ in page.context["scope_items"]]
        body = {
            **hidden_fields(page.content),
            "scope_choice": "1",
            "scopes": shown if ticked is None else ticked,
        }
        if allow:
            body["allow"] = "Authorize"
        else:
            body["deny"] = "Deny"
        return client.post(AUTHORIZE_URL, urlencode(body, doseq=True), content_type=FORM)

    run.consent_page = consent_page
    return run


@pytest.fixture
def code_flow(world, authorize, post_token):
    """Run the whole authorization-code + PKCE flow for a user; return the token response body."""

    def run(
        user=None, scope: str = "mcp:read mcp:tools", ticked=None, resource=None, token_params=None
    ) -> dict:
        verifier, challenge = pkce_pair()
        params = {"resource": resource} if resource else {}
        response = authorize(
            user or world.users["alice"],
            world.clients["web"].client_id,
            scope,
            challenge,
            ticked=ticked,
            **params,
        )
        code = redirect_params(response)["code"]
        reply = post_token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "client_id": world.clients["web"].client_id,
                "code_verifier": verifier,
                **(token_params or {}),
            }
        )
        assert reply.status_code == 200, reply.content
        return reply.json()

    return run

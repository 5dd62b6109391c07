"""Fixtures for the management API: real tokens with or without the admin scopes, and a JSON client
served by the production WSGI application."""

from __future__ import annotations

import json

import pytest

API = "/api/v1/"
MCP_SCOPES = ["mcp:read", "mcp:tools", "mcp:prompts"]


@pytest.fixture(autouse=True)
def fresh_verifier(settings):
    """Keys of this test's database are found at once (no key-refresh back-off), and no verification
    outlives the test."""
    from mcpserver import auth

    settings.MCPSERVER = {**settings.MCPSERVER, "KEY_REFRESH_INTERVAL": 0, "AUDIT_BACKGROUND": False}
    auth.reset()
    yield
    auth.reset()


@pytest.fixture
def roles(make_scope):
    """The migration's api-admin role (admin:read, admin:write), a read-only one, and an MCP-only one."""
    from authserver.models import Role, Scope

    for name in MCP_SCOPES:
        make_scope(name)
    reader = Role.objects.create(name="api-reader")
    reader.scopes.set(Scope.objects.filter(name="admin:read"))
    mcp_user = Role.objects.create(name="user")
    mcp_user.scopes.set(Scope.objects.filter(name__in=MCP_SCOPES))
    return {"writer": Role.objects.get(name="api-admin"), "reader": reader, "user": mcp_user}


@pytest.fixture
def people(roles, make_user):
    return {
        "root": make_user("root", roles=["api-admin", "user"], is_staff=True),
        "reader": make_user("reader", roles=["api-reader", "user"], is_staff=True),
        "user": make_user("user", roles=["user"]),
    }


@pytest.fixture
def issue(people):
    """Factory: a real access token for one of ``people`` (narrowed as at the token endpoint)."""
    from authserver import keys
    from authserver.clients import internal_client
    from authserver.tokens import issue_for_user

    keys.ensure_key()
    client = internal_client("tests-management-api", "management API tests")

    def make(who: str, scopes: list[str]) -> str:
        return issue_for_user(people[who], client, scopes, 300)

    return make


@pytest.fixture
def tokens(issue):
    return {
        "writer": issue("root", ["admin:read", "admin:write"]),
        "reader": issue("reader", ["admin:read"]),
        "user": issue("user", MCP_SCOPES),
        "write-only": issue("root", ["admin:write"]),
    }


class Api:
    """JSON requests to the management API with a bearer token (or none)."""

    def __init__(self, client, token: str | None = None):
        self.client, self.token = client, token

    def as_(self, token: str | None) -> Api:
        return Api(self.client, token)

    def call(self, method: str, path: str, body=None, **extra):
        if self.token:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        url = path if path.startswith("/") else API + path
        send = getattr(self.client, method.lower())
        if body is None:
            return send(url, **extra)
        return send(url, json.dumps(body), content_type="application/json", **extra)

    def get(self, path: str, **extra):
        return self.call("GET", path, **extra)

    def post(self, path: str, body=None, **extra):
        return self.call("POST", path, body if body is not None else {}, **extra)

    def patch(self, path: str, body, **extra):
        return self.call("PATCH", path, body, **extra)

    def put(self, path: str, body, **extra):
        return self.call("PUT", path, body, **extra)

    def delete(self, path: str, **extra):
        return self.call("DELETE", path, **extra)


@pytest.fixture
def api(wsgi_client, tokens):
    """The API as the writer (admin:read admin:write); ``api.as_(tokens["reader"])`` for others."""
    return Api(wsgi_client, tokens["writer"])

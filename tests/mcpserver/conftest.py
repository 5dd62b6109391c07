"""Fixtures for the MCP server: real tokens from the authorization server, and a JSON-RPC test client."""

from __future__ import annotations

import time
import uuid

import pytest

ALL_SCOPES = ["mcp:read", "mcp:tools", "mcp:prompts"]
MODERN = "2026-07-28"
PV_KEY = "io.modelcontextprotocol/protocolVersion"
CAPS_KEY = "io.modelcontextprotocol/clientCapabilities"


@pytest.fixture(autouse=True)
def mcp_settings(settings, tmp_path):
    """The key cache that would hide per-test keys is off; audit records wait for an explicit flush and
    are spooled into the test's own directory. (Tool policies need nothing: they are kept per
    change-feed version, new in every test.) The revocation fallback stays as production has it (the
    issuer's database): tests of the behaviour without one switch it off themselves."""
    from mcpserver import auth, limits
    from mcpserver.audit import buffer as audit_buffer

    settings.MCPSERVER = {
        **settings.MCPSERVER,
        "KEY_REFRESH_INTERVAL": 0,
        "AUDIT_BACKGROUND": False,
        "AUDIT_SPOOL_DIR": str(tmp_path / "audit-spool"),
    }
    auth.reset()
    limits.reset()  # a streamed response a test never closed would hold its caller's slot
    audit_buffer._buffer.clear()
    yield settings.MCPSERVER
    auth.reset()
    audit_buffer._buffer.clear()


@pytest.fixture
def roles(make_scope):
    from authserver.models import Role

    scopes = {name: make_scope(name) for name in ALL_SCOPES}
    made = {}
    for name, granted in {"user": ALL_SCOPES, "guest": ["mcp:read"], "admin": ALL_SCOPES}.items():
        made[name] = Role.objects.create(name=name)
        made[name].scopes.set([scopes[scope] for scope in granted])
    return made


@pytest.fixture
def application(roles, make_client):
    from authserver import keys

    keys.ensure_key()
    return make_client("mcp-tests", grant="password", scopes=ALL_SCOPES, public=True).application


@pytest.fixture
def issue(application, make_user):
    """Factory: a real access token for a (new) user with the given roles and requested scopes."""
    from authserver.tokens import issue_for_user

    def make(scopes=tuple(ALL_SCOPES), roles=("user",), username=None, lifetime=300) -> str:
        user = make_user(username or f"user-{uuid.uuid4().hex[:8]}", roles=list(roles))
        return issue_for_user(user, application, list(scopes), lifetime)

    return make


@pytest.fixture
def token(issue):
    return issue()


@pytest.fixture
def sign(application):
    """Factory: a token signed by the real current key with arbitrary claims (and header fields),
    recorded like every token the issuer signs (the database fallback finds it) unless ``store`` is
    false."""
    import jwt

    from authserver import keys

    def make(overrides=None, remove=(), headers=None, store=True) -> str:
        from django.conf import settings

        now = int(time.time())
        claims = {
            "iss": settings.MCPSERVER["ISSUER"],
            "sub": "42",
            "aud": settings.MCPSERVER["RESOURCE_URL"],
            "client_id": application.client_id,
            "scope": " ".join(ALL_SCOPES),
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
            "roles": ["user"],
            "username": "signed",
        }
        claims.update(overrides or {})
        for name in remove:
            claims.pop(name, None)
        kid, private_key = keys.current_signing_key()
        header = {"kid": kid, "typ": "at+jwt", **(headers or {})}
        token = jwt.encode(claims, private_key, algorithm="RS256", headers=header)
        if store:
            _record(token, application, claims)
        return token

    return make


def _record(token: str, application, claims: dict) -> None:
    """Store the token as the issuer would have (its checksum is what revocation looks up)."""
    import hashlib
    from datetime import UTC, datetime, timedelta

    from oauth2_provider.models import get_access_token_model

    model = get_access_token_model()
    if model.objects.filter(token_checksum=hashlib.sha256(token.encode()).hexdigest()).exists():
        return  # the same claims signed twice
    try:
        expires = datetime.fromtimestamp(claims["exp"], tz=UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):  # a test's odd or missing exp
        expires = datetime.now(tz=UTC) + timedelta(minutes=5)
    scope = claims.get("scope")
    model.objects.create(
        token=token, application=application, expires=expires, scope=scope if isinstance(scope, str) else ""
    )


@pytest.fixture
def client(wsgi_client):
    """Every in-process request of these tests goes through the production WSGI application (CSRF
    enforced, as there); the admin's pages keep pytest-django's ``admin_client``."""
    return wsgi_client


class McpClient:
    """Posts JSON-RPC to /mcp through a test client (the ``mcp`` fixture's serves through the production
    WSGI application), adding the 2026-07-28 envelope when asked."""

    def __init__(self, client, token):
        self.client, self.token = client, token
        self.counter = 0

    def raw(self, body, headers=None, token=None, content_type="application/json", method="post"):
        extra = {"HTTP_ACCEPT": "application/json, text/event-stream"}
        auth = self.token if token is None else token
        if auth:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {auth}"
        for name, value in (headers or {}).items():
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        data = body if isinstance(body, bytes | str) else __import__("json").dumps(body)
        return getattr(self.client, method)("/mcp", data, content_type=content_type, **extra)

    def modern(self, method, params=None, headers=None, token=None, request_id=None, meta=None):
        """A 2026-07-28 request with a correct envelope and mirrored headers (override to break them)."""
        self.counter += 1
        params = dict(params or {})
        params["_meta"] = {PV_KEY: MODERN, CAPS_KEY: {}, **(meta or {})}
        mirrored = {"MCP-Protocol-Version": MODERN, "Mcp-Method": method}
        for name in ("name", "uri"):
            if method in ("tools/call", "prompts/get", "resources/read") and name in params:
                mirrored["Mcp-Name"] = params[name]
        mirrored.update(headers or {})
        mirrored = {k: v for k, v in mirrored.items() if v is not None}
        body = {
            "jsonrpc": "2.0",
            "id": self.counter if request_id is None else request_id,
            "method": method,
            "params": params,
        }
        return self.raw(body, mirrored, token)

    def legacy(self, method, params=None, headers=None, token=None, notification=False, version="2025-11-25"):
        self.counter += 1
        body = {"jsonrpc": "2.0", "method": method, "params": params or {}}
        if not notification:
            body["id"] = self.counter
        merged = {"MCP-Protocol-Version": version, **(headers or {})}
        return self.raw(body, {k: v for k, v in merged.items() if v is not None}, token)

    def initialize(self, version="2025-11-25", token=None):
        response = self.legacy(
            "initialize",
            {
                "protocolVersion": version,
                "capabilities": {},
                "clientInfo": {"name": "tests", "version": "1"},
            },
            headers={"MCP-Protocol-Version": None},
            token=token,
        )
        assert response.status_code == 200, response.content
        return response


@pytest.fixture
def mcp(wsgi_client, token):
    return McpClient(wsgi_client, token)

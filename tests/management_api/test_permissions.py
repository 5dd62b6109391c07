"""Who may call what, for every operation of the published schema: anonymous callers get a 401 with the
bearer challenge, tokens short of a scope a 403 ``insufficient_scope`` naming it, ``admin:read`` reads
and only ``admin:write`` writes."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.mcpserver.test_auth import challenge_params

SAFE = {"get", "head", "options"}


def operations() -> list[tuple[str, str]]:
    """Every (method, path) of the OpenAPI document, as drf-spectacular generates it."""
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return sorted((method, path) for path, item in paths.items() for method in item)


OPERATIONS = operations()


@pytest.fixture
def objects(people, tokens, make_client):
    """One object of every kind, by the path segment that names its kind."""
    from oauth2_provider.models import get_access_token_model

    from authserver import keys, registration
    from authserver.models import Consent, FederatedIdentity, IdentityProvider, Role, Scope, SigningKey
    from mcpserver.models import AuditRecord, ToolPolicy

    client = make_client("svc", scopes=["mcp:read"]).application
    consent = Consent.objects.create(user=people["user"], application=client, resource="urn:tests")
    record = AuditRecord.objects.create(
        created=timezone.now(), subject="3", username="user", client_id=client.client_id, kind="tool",
        name="echo", outcome="ok", duration_ms=1.0,
    )  # fmt: skip
    idp = "https://idp.example"
    provider = IdentityProvider.objects.create(name="idp", issuer=idp, jwks_uri=idp + "/keys")
    link = FederatedIdentity.objects.create(provider=provider, subject="U1", user=people["user"])
    initial, _ = registration.issue_initial_access_token("for the permission tests")
    return {
        "users": people["user"].pk,
        "roles": Role.objects.get(name="user").pk,
        "scopes": Scope.objects.get(name="mcp:prompts").pk,
        "clients": client.pk,
        "tokens": get_access_token_model().objects.filter(user=people["user"]).first().pk,
        "consents": consent.pk,
        "signing-keys": SigningKey.objects.get(kid=keys.ensure_key().kid).pk,
        "tool-policies": ToolPolicy.objects.create(name="echo").pk,
        "audit-records": record.pk,
        "identity-providers": provider.pk,
        "federated-identities": link.pk,
        "initial-access-tokens": initial.pk,
    }


def url(path: str, objects: dict) -> str:
    kind = path.split("/")[3]
    return path.replace("{id}", str(objects[kind]))


def call(api, token, method: str, path: str, objects: dict):
    return api.as_(token).call(method, url(path, objects), {} if method not in SAFE else None)


def test_the_schema_describes_every_area():
    kinds = {path.split("/")[3] for _, path in OPERATIONS}
    assert kinds == {
        "users", "roles", "scopes", "clients", "tokens", "consents", "signing-keys", "tool-policies",
        "audit-records", "identity-providers", "federated-identities", "initial-access-tokens",
    }  # fmt: skip
    assert len(OPERATIONS) >= 40


def answers(api, token, objects: dict, only=lambda method: True) -> dict[tuple[str, str], object]:
    """Each operation's answer to ``token``, asked in turn (none of these callers may change anything)."""
    return {(m, p): call(api, token, m, p, objects) for m, p in OPERATIONS if only(m)}


def needed(method: str) -> str:
    return "admin:read" if method in SAFE else "admin:write"


def test_anonymous_calls_get_401_with_the_bearer_challenge(api, objects):
    for (method, path), response in answers(api, None, objects).items():
        assert response.status_code == 401, (method, path, response.content)
        params = challenge_params(response)
        assert "error" not in params, (method, path)
        assert params["scope"] == needed(method), (method, path)


def test_a_bad_token_gets_401_invalid_token(api, objects):
    for (method, path), response in answers(api, "not.a.token", objects).items():
        assert response.status_code == 401, (method, path)
        assert challenge_params(response)["error"] == "invalid_token", (method, path)


def test_a_token_without_admin_scopes_gets_403_insufficient_scope(api, tokens, objects):
    for (method, path), response in answers(api, tokens["user"], objects).items():
        assert response.status_code == 403, (method, path)
        params = challenge_params(response)
        assert params["error"] == "insufficient_scope", (method, path)
        assert params["scope"] == needed(method), (method, path)


def test_admin_read_reads_and_does_not_write(api, tokens, objects):
    for (method, path), response in answers(api, tokens["reader"], objects).items():
        if method in SAFE:
            assert response.status_code == 200, (method, path, response.content)
        else:
            assert response.status_code == 403, (method, path)
            assert challenge_params(response)["scope"] == "admin:write", (method, path)


def test_admin_write_alone_does_not_read(api, tokens, objects):
    for (method, path), response in answers(api, tokens["write-only"], objects, lambda m: m in SAFE).items():
        assert response.status_code == 403, (method, path)
        assert challenge_params(response)["scope"] == "admin:read", (method, path)


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p in OPERATIONS if m not in SAFE])
def test_admin_write_passes_every_write_and_every_write_is_audited(api, objects, method, path):
    """Past the permission check (an empty body may be refused, 400, never for want of access); a
    write that happened is in the admin's history, under the token's user and client."""
    from django.contrib.admin.models import LogEntry

    before = LogEntry.objects.count()
    response = call(api, api.token, method, path, objects)
    assert response.status_code in {200, 201, 204, 400}, response.content
    entries = LogEntry.objects.order_by("-id")[: LogEntry.objects.count() - before]
    if response.status_code < 300:
        assert entries, (method, path)
        for entry in entries:
            assert entry.user.username == "root"
            assert "through the management API, client tests-management-api" in entry.change_message
    else:
        assert not entries


def test_a_client_acting_for_itself_is_refused_even_with_admin_scopes(api, sign_for_client):
    response = api.as_(sign_for_client(["admin:read", "admin:write"])).get("users/")
    assert response.status_code == 403


@pytest.fixture
def sign_for_client(tokens):
    """A token a client could only have got for itself, were a role-only scope in its reach: signed by
    the real key, recorded, subject the client."""
    import time
    import uuid

    import jwt
    from django.conf import settings
    from oauth2_provider.models import get_access_token_model

    from authserver import keys

    def make(scopes: list[str]) -> str:
        kid, private_key = keys.current_signing_key()
        now = int(time.time())
        claims = {
            "iss": settings.MCPSERVER["ISSUER"], "aud": settings.MCPSERVER["RESOURCE_URL"],
            "sub": "svc-client", "client_id": "svc-client", "scope": " ".join(scopes), "iat": now,
            "exp": now + 300, "jti": uuid.uuid4().hex, "roles": [],
        }  # fmt: skip
        token = jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})
        expires = timezone.now() + timezone.timedelta(minutes=5)
        get_access_token_model().objects.create(token=token, expires=expires)
        return token

    return make


def test_an_unreachable_deny_list_is_a_503_not_a_pass(api, settings):
    """Without the shared state and without a fallback nobody can say whether a token was revoked:
    the API answers 503 with Retry-After (``authserver.outages``), as /mcp does, and lets nobody in."""
    from tests.helpers import UNREACHABLE_STATE

    settings.MCPSERVER = {**settings.MCPSERVER, "REVOCATION_FALLBACK": None}
    settings.SHARED_STATE = UNREACHABLE_STATE
    response = api.get("users/")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0

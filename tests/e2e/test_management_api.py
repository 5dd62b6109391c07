"""The management API against its live OpenAPI document (schemathesis), on a server of its own.

For every operation of ``/api/schema/``: cases generated from the document (valid ones and invalid
ones), sent with an admin token, never get a 5xx and always get an answer the document describes
(status, media type, headers, body). And every operation refuses an anonymous caller (401 with the
bearer challenge) and a token short of the scope it needs (403 ``insufficient_scope``).

The cases change the server's state at random, so the server is this module's own, and no case may
take the fuzzer's own access away: cases that would change or delete the fuzzer's user, role, scopes,
client, token or signing key, or rotate the keys as compromised, are left out.
"""

from __future__ import annotations

import json
import os
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .liveserver import LiveServer, with_worker_suffix

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "10"))  # per operation and generation mode
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SAFE = {"GET", "HEAD", "OPTIONS"}
KINDS = [
    "users", "roles", "scopes", "clients", "tokens", "consents", "signing-keys", "tool-policies",
    "audit-records", "identity-providers", "federated-identities", "initial-access-tokens",
]  # fmt: skip
TRUE = {True, 1, "1", "true", "True", "TRUE", "yes", "on", "y", "t"}  # what DRF reads as true

# The fuzzer (a user whose own role grants the admin scopes), a caller without admin scopes, and one
# object of each kind the demo data lacks, for the operations on one object.
SETUP = """
from django.utils import timezone
from oauth2_provider.models import get_application_model
from authserver import keys, registration
from authserver.models import Consent, FederatedIdentity, IdentityProvider, Role, Scope, User
from mcpserver.models import AuditRecord, ToolPolicy
role = Role.objects.create(name="fuzz-admin")
role.scopes.set(Scope.objects.filter(name__in=["admin:read", "admin:write"]))
User.objects.create_user("fuzzer", is_staff=True).roles.set([role])
User.objects.create_user("fuzz-reader", is_staff=True).roles.set(Role.objects.filter(name="guest"))
web = get_application_model().objects.get(client_id="demo-web")
Consent.objects.create(user=User.objects.get(username="alice"), application=web, resource="urn:fuzz")
ToolPolicy.objects.create(name="echo")
idp = IdentityProvider.objects.create(name="fuzz", issuer="https://idp.example", jwks_uri="https://idp.example/k")
FederatedIdentity.objects.create(provider=idp, subject="fuzz-subject", user=User.objects.get(username="alice"))
registration.issue_initial_access_token("fuzz")
keys.rotate()  # a retired key, besides the current one that signs the fuzzer's token
AuditRecord.objects.create(
    created=timezone.now(), subject="1", username="alice", client_id="demo-web", kind="tool", name="echo",
    outcome="ok", duration_ms=1.0,
)
"""
# Everything the fuzzer's access hangs on, by the kind of object each path names.
PROTECTED = """
import json
from oauth2_provider.models import get_access_token_model, get_application_model
from authserver.models import Role, Scope, SigningKey, User
print(json.dumps({
    "users": [User.objects.get(username="fuzzer").pk],
    "roles": [Role.objects.get(name="fuzz-admin").pk],
    "scopes": list(Scope.objects.filter(name__in=["admin:read", "admin:write"]).values_list("pk", flat=True)),
    "clients": [get_application_model().objects.get(client_id="manage-issue-token").pk],
    "tokens": list(
        get_access_token_model().objects.filter(user__username="fuzzer").values_list("pk", flat=True)
    ),
    "signing-keys": [SigningKey.objects.current().pk],
}))
"""


def _database_url() -> str | None:
    """The e2e PostgreSQL database's URL with a suffix of this module's (None: a temporary SQLite file)."""
    url = os.environ.get("E2E_DATABASE_URL")
    if not url:
        return None
    parts = urlsplit(with_worker_suffix(url))
    return urlunsplit(parts._replace(path=parts.path + "_api"))


@pytest.fixture(scope="module")
def server():
    redis_url = os.environ.get("E2E_REDIS_URL") or os.environ.get("REDIS_URL") or None
    # The fuzzer is one caller sending thousands of requests: a rate limit it never reaches, still counted.
    env = {"MANAGEMENT_API_RATE": "1000000/hour"}
    with LiveServer(database_url=_database_url(), redis_url=redis_url, workers=2, threads=2, env=env) as live:
        live.manage("shell", "-v", "0", "-c", SETUP)
        live.issue_token("alice", ["mcp:read"])  # a token that is not the fuzzer's
        yield live


@pytest.fixture(scope="module")
def admin_token(server) -> str:
    return server.issue_token("fuzzer", ["admin:read", "admin:write"], lifetime=3600)


@pytest.fixture(scope="module")
def protected(server, admin_token) -> dict[str, set[int]]:
    found = json.loads(server.manage("shell", "-v", "0", "-c", PROTECTED).stdout)
    return {kind: set(pks) for kind, pks in found.items()}


@pytest.fixture(scope="module")
def schema(server):
    return schemathesis.openapi.from_url(server.url + "/api/schema/?format=json", timeout=30)


def operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


def existing(server, token: str, protected: dict[str, set[int]]) -> dict[str, int]:
    """An object of each kind that the fuzzer may change, by the path segment naming its kind."""
    found = {}
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for kind in KINDS:
            ids = [item["id"] for item in http.get(f"/api/v1/{kind}/").json()["results"]]
            found[kind] = next(pk for pk in ids if pk not in protected.get(kind, set()))
    return found


def passes(operation, objects: dict[str, int]) -> list[tuple[str, object]]:
    """Valid cases, invalid cases and, for an operation on one object, valid cases on an existing one."""
    runs = [
        ("positive", operation.as_strategy()),
        ("negative", operation.as_strategy(GenerationMode.NEGATIVE)),
    ]
    if "{id}" in operation.path:
        pk = objects[operation.path.split("/")[3]]
        runs.append((f"positive, object {pk}", operation.as_strategy(path_parameters={"id": pk})))
    return runs


def harmless(protected: dict[str, set[int]]):
    """Whether a case leaves the fuzzer's access alone."""

    def check(case) -> bool:
        method, path = case.operation.method.upper(), case.operation.path
        if method in SAFE:
            return True
        kind = path.split("/")[3]
        if _key((case.path_parameters or {}).get("id")) in protected.get(kind, set()):
            return False
        body = case.body if isinstance(case.body, dict) else {}
        return not (path.endswith("/rotate/") and _truthy(body.get("compromised")))

    return check


def _key(value) -> int | None:
    """The primary key a path's id names, read as the database lookup reads it: "4%20" and "%D9%A4" are 4."""
    try:
        return int(unquote(str(value)))
    except (TypeError, ValueError):
        return None


def _truthy(value) -> bool:
    try:
        return value in TRUE
    except TypeError:  # unhashable
        return False


def test_every_operation_refuses_anonymous_and_under_scoped_callers(server, schema, protected):
    """First in the module: the fuzzing below may delete what this caller's token hangs on."""
    guest = server.issue_token("fuzz-reader", ["mcp:read"])  # no admin scope at all
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for operation in operations(schema):
            method, path = operation.method.upper(), operation.path.replace("{id}", "1")
            needed = "admin:read" if method in SAFE else "admin:write"
            anonymous = http.request(method, path)
            assert anonymous.status_code == 401, (method, path)
            assert anonymous.headers["WWW-Authenticate"].startswith("Bearer "), (method, path)
            assert f'scope="{needed}"' in anonymous.headers["WWW-Authenticate"], (method, path)
            short = http.request(method, path, headers={"Authorization": f"Bearer {guest}"})
            assert short.status_code == 403, (method, path)
            assert 'error="insufficient_scope"' in short.headers["WWW-Authenticate"], (method, path)
            assert f'scope="{needed}"' in short.headers["WWW-Authenticate"], (method, path)


def test_every_operation_answers_as_documented_and_never_with_a_5xx(server, schema, admin_token, protected):
    headers = {"Authorization": f"Bearer {admin_token}"}
    objects = existing(server, admin_token, protected)
    keep, failures = harmless(protected), []
    for operation in operations(schema):
        for name, strategy in passes(operation, objects):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],  # a failure is reported as found, not shrunk
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy.filter(keep))
            def run(case):
                case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS, timeout=30)

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # one report per operation and pass
                failures.append(f"{operation.method.upper()} {operation.path} ({name}): {exc}"[:3000])
    assert failures == [], "\n\n".join(failures)
    assert server.errors_since(0) == []

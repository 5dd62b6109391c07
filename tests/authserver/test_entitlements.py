"""Losing access takes effect at once: deactivation, a removed role, a scope taken from a role.

Each revokes the user's tokens through ``revoking`` so the deny-list every instance reads refuses
them on the next request to /mcp (DESIGN.md invariant 11).
"""

from __future__ import annotations

import hashlib
import json

import pytest

import sharedstate
from authserver import revoking
from authserver.models import Role, Scope

MODERN = "2026-07-28"
PV_KEY = "io.modelcontextprotocol/protocolVersion"
CAPS_KEY = "io.modelcontextprotocol/clientCapabilities"


@pytest.fixture
def client(wsgi_client):
    """Every request of these tests, to /mcp and to the token endpoint, goes through the production WSGI
    application."""
    return wsgi_client


def mcp_status(client, token: str) -> int:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/list",
        "params": {"_meta": {PV_KEY: MODERN, CAPS_KEY: {}}},
    }
    response = client.post(
        "/mcp",
        json.dumps(body),
        content_type="application/json",
        HTTP_ACCEPT="application/json, text/event-stream",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_MCP_PROTOCOL_VERSION=MODERN,
        HTTP_MCP_METHOD="tools/list",
    )
    return response.status_code


def denied(token: str) -> bool:
    """On the shared deny-list (what other instances read), not merely gone from this database."""
    return bool(sharedstate.get(revoking.cache_key(hashlib.sha256(token.encode()).hexdigest())))


@pytest.fixture(autouse=True)
def mcp_reads_only_the_deny_list(settings):
    """Keys are looked up afresh; the database fallback is off, so only the deny-list can refuse."""
    from mcpserver import auth

    settings.MCPSERVER = {**settings.MCPSERVER, "KEY_REFRESH_INTERVAL": 0, "REVOCATION_FALLBACK": None}
    auth.reset()
    yield
    auth.reset()


@pytest.fixture
def live(world, password_token, client):
    """A fresh access token for alice (role ``writer``) that /mcp accepts."""
    token = password_token("alice", scope="mcp:read mcp:tools")["access_token"]
    assert mcp_status(client, token) == 200
    return token


def test_deactivating_a_user_revokes_their_tokens(world, live, client):
    alice = world.users["alice"]
    alice.is_active = False
    alice.save()
    assert denied(live)
    assert mcp_status(client, live) == 401


def test_saving_other_fields_of_an_active_user_revokes_nothing(world, live, client):
    alice = world.users["alice"]
    alice.email = "alice@example.test"
    alice.save()
    assert mcp_status(client, live) == 200


def test_removing_a_role_from_the_user_revokes_their_tokens(world, live, client):
    world.users["alice"].roles.remove(world.roles["writer"])
    assert denied(live)
    assert mcp_status(client, live) == 401


def test_clearing_the_users_roles_revokes_their_tokens(world, live, client):
    world.users["alice"].roles.clear()
    assert denied(live) and mcp_status(client, live) == 401


def test_removing_the_user_from_the_role_side_revokes_their_tokens(world, live, client):
    world.roles["writer"].users.remove(world.users["alice"])
    assert denied(live) and mcp_status(client, live) == 401


def test_clearing_a_roles_users_revokes_their_tokens(world, live, client):
    world.roles["writer"].users.clear()
    assert denied(live) and mcp_status(client, live) == 401


def test_deleting_a_role_revokes_its_users_tokens(world, live, client):
    world.roles["writer"].delete()
    assert denied(live) and mcp_status(client, live) == 401


def test_adding_a_role_revokes_nothing(world, live, client, make_role):
    world.users["alice"].roles.add(make_role("extra", ["mcp:prompts"]))
    assert mcp_status(client, live) == 200


def test_taking_a_carried_scope_from_a_role_revokes_tokens_that_carry_it(world, live, client, password_token):
    reader = password_token("guest", scope="mcp:read")["access_token"]
    world.roles["writer"].scopes.remove(Scope.objects.get(name="mcp:tools"))
    assert denied(live) and mcp_status(client, live) == 401
    assert mcp_status(client, reader) == 200  # another role's users are not touched


def test_taking_an_uncarried_scope_from_a_role_revokes_nothing(world, client, password_token):
    token = password_token("alice", scope="mcp:read")["access_token"]
    world.roles["writer"].scopes.remove(Scope.objects.get(name="mcp:tools"))
    assert mcp_status(client, token) == 200


def test_clearing_a_roles_scopes_revokes_its_users_tokens(world, live, client):
    world.roles["writer"].scopes.clear()
    assert denied(live) and mcp_status(client, live) == 401


def test_taking_the_role_from_the_scope_side_revokes(world, live, client):
    Scope.objects.get(name="mcp:tools").roles.remove(world.roles["writer"])
    assert denied(live) and mcp_status(client, live) == 401


def test_deleting_a_scope_revokes_user_tokens_that_carry_it(world, live, client):
    Scope.objects.get(name="mcp:tools").delete()
    assert denied(live) and mcp_status(client, live) == 401


def test_client_credentials_tokens_are_not_touched_by_roles(world, cc_token, client):
    token = cc_token(scope="mcp:read")["access_token"]
    Role.objects.all().delete()
    assert mcp_status(client, token) == 200


def test_deactivating_a_user_in_the_admin_revokes_their_tokens(world, live, client, admin_client):
    alice = world.users["alice"]
    form = {
        "username": alice.username,
        "roles": [role.pk for role in alice.roles.all()],
        "date_joined_0": alice.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": alice.date_joined.strftime("%H:%M:%S"),
    }  # the "active" box left unticked
    response = admin_client.post(f"/admin/authserver/user/{alice.pk}/change/", form)
    assert response.status_code == 302
    alice.refresh_from_db()
    assert not alice.is_active
    assert denied(live) and mcp_status(client, live) == 401


def test_removing_a_role_in_the_admin_revokes_their_tokens(world, live, client, admin_client):
    alice = world.users["alice"]
    form = {
        "username": alice.username,
        "is_active": "on",
        "roles": [world.roles["reader"].pk],
        "date_joined_0": alice.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": alice.date_joined.strftime("%H:%M:%S"),
    }
    response = admin_client.post(f"/admin/authserver/user/{alice.pk}/change/", form)
    assert response.status_code == 302
    assert world.users["alice"].role_names() == ["reader"]
    assert denied(live) and mcp_status(client, live) == 401


def test_a_lost_role_revokes_the_refresh_token_too(world, post_token, password_token):
    issued = password_token("alice", scope="mcp:read mcp:tools")
    world.users["alice"].roles.clear()
    body = {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"], "client_id": world.clients["cli"].client_id}
    response = post_token(body)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_scope_taken_from_a_role_revokes_the_refresh_token_too(world, post_token, password_token):
    issued = password_token("alice", scope="mcp:read mcp:tools")
    world.roles["writer"].scopes.remove(world.scopes["mcp:tools"])
    body = {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"], "client_id": world.clients["cli"].client_id}
    response = post_token(body)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"

"""Effective scopes: requested (or defaults) ∩ client ceiling ∩ (user grants) the user's roles' scopes."""

from __future__ import annotations

from authserver import scopes
from authserver.models import Role, Scope

# --- the calculation ---


def test_effective_scopes_intersects_ceiling_and_roles(world):
    web = world.clients["web"].application  # ceiling read, tools, prompts
    alice = world.users["alice"]  # writer: read, tools
    granted = scopes.effective_scopes(["mcp:prompts", "mcp:tools", "mcp:read", "mcp:admin"], web, alice)
    assert granted == ["mcp:tools", "mcp:read"]  # request order kept


def test_effective_scopes_without_user_uses_only_the_ceiling(world):
    service = world.clients["service"].application  # ceiling read, tools, admin
    assert scopes.effective_scopes(["mcp:admin", "mcp:prompts", "mcp:read"], service) == [
        "mcp:admin",
        "mcp:read",
    ]


def test_effective_scopes_drops_unknown_names_and_duplicates(world):
    service = world.clients["service"].application
    assert scopes.effective_scopes(["mcp:read", "nope", "mcp:read"], service) == ["mcp:read"]


def test_a_client_without_policy_gets_nothing(world):
    application = world.clients["service"].application
    application.policy.delete()
    application.refresh_from_db()
    assert scopes.ceiling(application) == set()
    assert scopes.effective_scopes(["mcp:read"], application) == []


def test_user_without_roles_gets_nothing(world):
    web = world.clients["web"].application
    assert scopes.effective_scopes(["mcp:read"], web, world.users["nobody"]) == []


def test_scope_names_is_the_union_of_all_roles(world):
    alice = world.users["alice"]
    alice.roles.add(world.roles["prompter"])
    assert alice.scope_names() == {"mcp:read", "mcp:tools", "mcp:prompts"}


# --- the DOT scopes backend ---


def test_backend_lists_the_database_catalogue(world):
    backend = scopes.DatabaseScopes()
    assert backend.get_all_scopes() == {
        # The management API's, which migration 0007 makes.
        **dict(Scope.objects.filter(name__startswith="admin:").values_list("name", "description")),
        "mcp:read": "Read things",
        "mcp:tools": "Call tools",
        "mcp:prompts": "Use prompts",
        "mcp:admin": "Administer",
    }
    Scope.objects.create(name="mcp:new", description="New")
    assert "mcp:new" in backend.get_all_scopes()
    assert "mcp:new" in backend.get_available_scopes()


def test_backend_available_scopes_of_a_client_are_its_ceiling(world):
    backend = scopes.DatabaseScopes()
    assert backend.get_available_scopes(world.clients["service"].application) == [
        "mcp:admin",
        "mcp:read",
        "mcp:tools",
    ]


def test_backend_default_scopes_are_defaults_within_the_ceiling(world):
    backend = scopes.DatabaseScopes()
    assert backend.get_default_scopes(world.clients["service"].application) == ["mcp:read", "mcp:tools"]
    assert backend.get_default_scopes() == ["mcp:prompts", "mcp:read", "mcp:tools"]


# --- through the token endpoint ---


def test_narrowing_by_the_ceiling_shows_in_the_response(world, cc_token, decode):
    body = cc_token(scope="mcp:read mcp:prompts")
    assert body["scope"] == "mcp:read"
    assert decode(body["access_token"])["scope"] == "mcp:read"


def test_narrowing_by_roles_shows_in_the_response(world, password_token, decode):
    body = password_token("guest", scope="mcp:read mcp:tools mcp:prompts")
    assert body["scope"] == "mcp:read"
    assert decode(body["access_token"])["scope"] == "mcp:read"


def test_no_scope_requested_gives_defaults_narrowed_by_roles(world, password_token):
    body = password_token("alice")
    assert set(body["scope"].split()) == {"mcp:read", "mcp:tools"}


def test_an_empty_scope_parameter_means_the_defaults(world, cc_token, password_token):
    assert set(cc_token(scope="")["scope"].split()) == {"mcp:read", "mcp:tools"}
    assert password_token("guest", scope="")["scope"] == "mcp:read"


def test_non_default_scope_is_not_granted_unless_requested(world, cc_token):
    assert "mcp:admin" not in cc_token()["scope"].split()


def test_narrowing_to_nothing_is_invalid_scope(world, post_token):
    service = world.clients["service"]
    response = post_token(
        {"grant_type": "client_credentials", "scope": "mcp:prompts"},
        (service.client_id, service.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_user_without_roles_is_invalid_scope(world, post_token):
    response = post_token(
        {
            "grant_type": "password",
            "client_id": world.clients["cli"].client_id,
            "username": "nobody",
            "password": "nobody-password",
            "scope": "mcp:read",
        }
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_no_scope_requested_and_no_default_left_is_invalid_scope(world, post_token):
    Scope.objects.update(is_default=False)
    service = world.clients["service"]
    response = post_token({"grant_type": "client_credentials"}, (service.client_id, service.client_secret))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


# --- refresh never widens ---


def _refresh(post_token, world, token, **data):
    return post_token(
        {
            "grant_type": "refresh_token",
            "refresh_token": token,
            "client_id": world.clients["cli"].client_id,
            **data,
        }
    )


def test_refresh_cannot_ask_for_more_than_the_original_grant(world, post_token, password_token):
    issued = password_token("alice", scope="mcp:read")
    response = _refresh(post_token, world, issued["refresh_token"], scope="mcp:read mcp:tools")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_refresh_may_narrow_on_request(world, post_token, password_token, decode):
    issued = password_token("alice", scope="mcp:read mcp:tools")
    response = _refresh(post_token, world, issued["refresh_token"], scope="mcp:read")
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "mcp:read"
    assert decode(response.json()["access_token"])["scope"] == "mcp:read"


def _take_scope_quietly(role, scope) -> None:
    """Take a scope from a role without model signals (as SQL would): nothing is revoked
    (``authserver.entitlements`` revokes on signalled changes), so only refresh narrowing protects."""
    role.scopes.through.objects.filter(role=role, scope=scope).delete()


def test_refresh_narrows_when_a_role_lost_a_scope(world, post_token, password_token, decode):
    issued = password_token("alice", scope="mcp:read mcp:tools")
    _take_scope_quietly(world.roles["writer"], world.scopes["mcp:tools"])
    response = _refresh(post_token, world, issued["refresh_token"])
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "mcp:read"
    assert decode(response.json()["access_token"])["scope"] == "mcp:read"


def test_refresh_narrows_when_the_ceiling_shrank(world, post_token, password_token):
    issued = password_token("alice", scope="mcp:read mcp:tools")
    world.clients["cli"].application.policy.scopes.remove(world.scopes["mcp:read"])
    response = _refresh(post_token, world, issued["refresh_token"])
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "mcp:tools"


def test_refresh_cannot_ask_again_for_a_scope_a_role_lost(world, post_token, password_token):
    issued = password_token("alice", scope="mcp:read mcp:tools")
    _take_scope_quietly(world.roles["writer"], world.scopes["mcp:tools"])
    response = _refresh(post_token, world, issued["refresh_token"], scope="mcp:read mcp:tools")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_refresh_after_losing_every_scope_is_invalid_scope(world, post_token, password_token):
    issued = password_token("alice", scope="mcp:read mcp:tools")
    world.users["alice"].roles.through.objects.filter(user=world.users["alice"]).delete()  # no signals
    response = _refresh(post_token, world, issued["refresh_token"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_refresh_does_not_widen_when_a_role_gains_a_scope(world, post_token, password_token):
    issued = password_token("alice", scope="mcp:read")
    Role.objects.get(name="writer").scopes.add(world.scopes["mcp:prompts"])
    response = _refresh(post_token, world, issued["refresh_token"])
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "mcp:read"


# --- scopes granted only through a role (the management API's admin:read and admin:write) ---


def test_admin_scopes_exist_granted_only_through_a_role(db):
    """Migration 0007: both scopes, never default, only through a role; the api-admin role grants both."""
    admin_scopes = Scope.objects.filter(name__in=["admin:read", "admin:write"])
    assert {(s.name, s.role_only, s.is_default) for s in admin_scopes} == {
        ("admin:read", True, False),
        ("admin:write", True, False),
    }
    assert Role.objects.get(name="api-admin").scopes.names() == {"admin:read", "admin:write"}


def test_a_client_acting_for_itself_never_gets_a_role_only_scope(world, post_token, cc_token):
    service = world.clients["service"]
    service.application.policy.scopes.add(*Scope.objects.filter(name__startswith="admin:"))
    assert cc_token(scope="mcp:read admin:read admin:write")["scope"] == "mcp:read"
    body = {"grant_type": "client_credentials", "scope": "admin:read"}
    response = post_token(body, (service.client_id, service.client_secret))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_a_user_gets_a_role_only_scope_only_through_a_role(world, password_token):
    cli = world.clients["cli"].application
    cli.policy.scopes.add(*Scope.objects.filter(name__startswith="admin:"))
    alice = world.users["alice"]
    assert password_token("alice", scope="mcp:read admin:read")["scope"] == "mcp:read"
    alice.roles.add(Role.objects.get(name="api-admin"))
    assert password_token("alice", scope="mcp:read admin:read")["scope"] == "mcp:read admin:read"


def test_a_role_only_scope_is_not_in_a_self_registered_clients_default_ceiling(world, make_user):
    from authserver import registration

    make_user("ordinary-admin", roles=["api-admin"])  # not staff: an ordinary user by the default's rule
    assert not registration.default_ceiling().filter(role_only=True).exists()


def test_a_user_gets_a_role_only_scope_through_the_consent_page_only_through_a_role(world, code_flow):
    # The authorization endpoint narrows to the ceiling only; the user's roles narrow at the consent page.
    web = world.clients["web"].application
    web.policy.scopes.add(*Scope.objects.filter(name__startswith="admin:"))
    alice = world.users["alice"]
    assert code_flow(alice, scope="mcp:read admin:read")["scope"] == "mcp:read"
    alice.roles.add(Role.objects.get(name="api-admin"))
    assert code_flow(alice, scope="mcp:read admin:read")["scope"] == "mcp:read admin:read"

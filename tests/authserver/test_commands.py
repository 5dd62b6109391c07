"""Management commands: issue_token, create_client, seed_demo (rotate_signing_key is in test_keys)."""

from __future__ import annotations

import hashlib
import json
from io import StringIO
from urllib.parse import urlencode

import jwt
import pytest
from django.core.management import CommandError, call_command
from oauth2_provider.models import get_access_token_model, get_application_model

import sharedstate
from authserver.models import ClientPolicy, Role, Scope, SigningKey, User
from notes.models import Note

from .conftest import FORM, basic


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- issue_token ---


def test_issue_token_prints_only_a_jwt_and_records_it(world, decode):
    output = run("issue_token", "--username", "alice", "--scopes", "mcp:read,mcp:tools")
    token = output.strip()
    assert output == token + "\n"
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    claims = decode(token)
    assert claims["sub"] == str(world.users["alice"].pk)
    assert claims["username"] == "alice"
    assert claims["scope"] == "mcp:read mcp:tools"
    row = get_access_token_model().objects.get(token_checksum=hashlib.sha256(token.encode()).hexdigest())
    assert row.user == world.users["alice"]
    assert row.token == ""


def test_issue_token_narrows_to_the_users_roles(world, decode):
    token = run("issue_token", "--username", "guest", "--scopes", "mcp:read,mcp:tools").strip()
    assert decode(token)["scope"] == "mcp:read"


def test_issue_token_with_lifetime(world, decode):
    claims = decode(
        run("issue_token", "--username", "alice", "--scopes", "mcp:read", "--lifetime", "60").strip()
    )
    assert claims["exp"] - claims["iat"] == 60


def test_issue_token_for_a_client_is_revocable_through_the_endpoint(world, client, decode):
    backend = world.clients["backend"]
    token = run(
        "issue_token", "--username", "alice", "--scopes", "mcp:read", "--client", backend.client_id
    ).strip()
    assert decode(token)["client_id"] == backend.client_id
    response = client.post(
        "/oauth/revoke/",
        urlencode({"token": token}),
        content_type=FORM,
        HTTP_AUTHORIZATION=basic(backend.client_id, backend.client_secret),
    )
    assert response.status_code == 200
    assert not get_access_token_model().objects.exists()
    assert sharedstate.get("revoked-token:" + hashlib.sha256(token.encode()).hexdigest()) is not None


def test_issue_token_default_client_token_is_revocable_through_the_endpoint(world, client):
    token = run("issue_token", "--username", "alice", "--scopes", "mcp:read").strip()
    client_id = jwt.decode(token, options={"verify_signature": False})["client_id"]
    response = client.post(
        "/oauth/revoke/", urlencode({"token": token, "client_id": client_id}), content_type=FORM
    )
    assert response.status_code == 200
    assert not get_access_token_model().objects.exists()
    assert sharedstate.get("revoked-token:" + hashlib.sha256(token.encode()).hexdigest()) is not None


def test_issue_token_internal_client_starts_no_flow(world, client, post_token):
    run("issue_token", "--username", "alice", "--scopes", "mcp:read")
    client_id = "manage-issue-token"
    for grant in (
        {"grant_type": "client_credentials"},
        {"grant_type": "password", "username": "alice", "password": "alice-password"},
    ):
        response = post_token({**grant, "client_id": client_id})
        assert response.status_code in (400, 401), response.content
    client.force_login(world.users["alice"])
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "scope": "mcp:read",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        }
    )
    response = client.get("/oauth/authorize/?" + query)
    assert response.status_code == 400
    assert "Location" not in response


def test_issue_token_reuses_its_internal_client(world):
    run("issue_token", "--username", "alice", "--scopes", "mcp:read")
    run("issue_token", "--username", "alice", "--scopes", "mcp:read")
    assert get_application_model().objects.filter(client_id="manage-issue-token").count() == 1
    assert get_access_token_model().objects.count() == 2


def test_issue_token_covers_scopes_added_after_its_client(world, make_scope, decode):
    run("issue_token", "--username", "alice", "--scopes", "mcp:read")
    make_scope("mcp:extra", "Extra")
    world.roles["writer"].scopes.add(Scope.objects.get(name="mcp:extra"))
    token = run("issue_token", "--username", "alice", "--scopes", "mcp:extra").strip()
    assert decode(token)["scope"] == "mcp:extra"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--username", "nobody-here", "--scopes", "mcp:read"], "nobody-here"),
        (["--username", "alice", "--scopes", "mcp:nope"], "mcp:nope"),
        (["--username", "alice", "--scopes", ","], "scope"),
        (["--username", "alice", "--scopes", "mcp:read", "--lifetime", "0"], "lifetime"),
        (["--username", "alice", "--scopes", "mcp:read", "--lifetime", "-5"], "lifetime"),
        (["--username", "alice", "--scopes", "mcp:read", "--lifetime", "99999999"], "lifetime"),
        (["--username", "alice", "--scopes", "mcp:read", "--client", "no-such-client"], "no-such-client"),
        (["--username", "nobody", "--scopes", "mcp:read"], "scope"),
    ],
)
def test_issue_token_bad_input_is_a_command_error(world, args, message):
    with pytest.raises(CommandError, match=message):
        run("issue_token", *args)
    assert not get_access_token_model().objects.exists()


def test_issue_token_refuses_an_inactive_user(world):
    User.objects.filter(username="alice").update(is_active=False)
    with pytest.raises(CommandError):
        run("issue_token", "--username", "alice", "--scopes", "mcp:read")


def test_issue_token_lifetime_not_a_number_is_an_error(world):
    with pytest.raises(CommandError):
        run("issue_token", "--username", "alice", "--scopes", "mcp:read", "--lifetime", "soon")


# --- create_client ---


def test_create_client_json_prints_a_secret_that_works(world, post_token, decode):
    output = run(
        "create_client",
        "--name",
        "Robot",
        "--grant",
        "client-credentials",
        "--scopes",
        "mcp:read,mcp:tools",
        "--json",
    )
    created = json.loads(output)
    assert set(created) == {"client_id", "client_secret"}
    response = post_token(
        {"grant_type": "client_credentials", "scope": "mcp:read mcp:tools mcp:prompts"},
        (created["client_id"], created["client_secret"]),
    )
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "mcp:read mcp:tools"
    assert decode(response.json()["access_token"])["sub"] == created["client_id"]
    assert len(created["client_secret"]) >= 64
    application = get_application_model().objects.get(client_id=created["client_id"])
    assert application.client_secret != created["client_secret"]  # stored hashed


def test_create_client_plain_text_output(world):
    output = run("create_client", "--name", "Robot", "--grant", "client-credentials", "--scopes", "mcp:read")
    lines = output.splitlines()
    assert lines[0].startswith("client_id: ")
    assert lines[1].startswith("client_secret: ")


def test_create_public_authorization_code_client(world):
    created = json.loads(
        run(
            "create_client",
            "--name",
            "SPA",
            "--grant",
            "authorization-code",
            "--scopes",
            "mcp:read",
            "--redirect-uri",
            "https://app.example.test/cb",
            "--public",
            "--json",
        )
    )
    assert created["client_secret"] is None
    application = get_application_model().objects.get(client_id=created["client_id"])
    assert application.client_type == application.CLIENT_PUBLIC
    assert application.redirect_uris == "https://app.example.test/cb"
    assert set(application.policy.scopes.values_list("name", flat=True)) == {"mcp:read"}


def test_create_a_device_client_with_its_own_refresh_grace(world):
    device = "urn:ietf:params:oauth:grant-type:device_code"
    args = ["--name", "TV", "--grant", device, "--scopes", "mcp:read", "--public", "--refresh-grace", "0"]
    created = json.loads(run("create_client", *args, "--json"))
    application = get_application_model().objects.get(client_id=created["client_id"])
    assert application.authorization_grant_type == device
    assert application.policy.refresh_grace_seconds == 0


def test_create_a_client_that_may_exchange_tokens(world):
    targets = ["https://api.example/v1", "https://files.example/"]
    args = ["--name", "Gateway", "--grant", "client-credentials", "--scopes", "mcp:read"]
    args += [part for target in targets for part in ("--exchange-audience", target)]
    created = json.loads(run("create_client", *args, "--json"))
    application = get_application_model().objects.get(client_id=created["client_id"])
    assert application.policy.exchange_audiences == targets


@pytest.mark.parametrize(
    "args, message",
    [
        (["--scopes", "mcp:read", "--grant", "client-credentials", "--refresh-grace", "6"], "server's"),
        (["--scopes", "mcp:read", "--grant", "client-credentials", "--exchange-audience", "api"], "absolute"),
        (["--scopes", "mcp:read,mcp:nope", "--grant", "client-credentials"], "mcp:nope"),
        (["--scopes", "mcp:read", "--grant", "authorization-code"], "redirect"),
        (["--scopes", "mcp:read", "--grant", "client-credentials", "--public"], "confidential"),
        (["--scopes", "mcp:read", "--grant", "authorization-code", "--redirect-uri", "not a url"], None),
        (["--scopes", "mcp:read", "--grant", "implicit"], None),
        (
            [
                "--scopes",
                "mcp:read",
                "--grant",
                "authorization-code",
                "--redirect-uri",
                "http://app.example.test/cb",
            ],
            "loopback",
        ),
    ],
)
def test_create_client_bad_input_is_a_command_error(world, args, message):
    before = get_application_model().objects.count()
    with pytest.raises(CommandError, match=message):
        run("create_client", "--name", "Bad", *args)
    assert get_application_model().objects.count() == before


def test_create_client_with_a_taken_client_id_is_an_error(world):
    with pytest.raises(CommandError, match="already exists"):
        run(
            "create_client",
            "--name",
            "Dup",
            "--grant",
            "client-credentials",
            "--scopes",
            "mcp:read",
            "--client-id",
            world.clients["service"].client_id,
        )


# --- seed_demo ---


def _snapshot():
    Application = get_application_model()
    return (
        sorted(Scope.objects.values_list("name", "description")),
        sorted((r.name, tuple(r.scopes.values_list("name", flat=True))) for r in Role.objects.all()),
        sorted((u.username, u.is_staff, u.is_superuser, tuple(u.role_names())) for u in User.objects.all()),
        sorted(Application.objects.values_list("client_id", "client_type", "authorization_grant_type")),
        sorted(
            (p.application.client_id, tuple(p.scopes.values_list("name", flat=True)))
            for p in ClientPolicy.objects.all()
        ),
        SigningKey.objects.count(),
        sorted(Note.objects.values_list("key", "owner__username", "title", "body")),
    )


def test_seed_demo_twice_is_idempotent(db, post_token, client):
    assert "(24 objects created)" in run("seed_demo")
    first = _snapshot()
    assert "(0 objects created)" in run("seed_demo")
    assert _snapshot() == first
    assert first[5] == 1
    assert len(first[6]) == 6 and {owner for _, owner, _, _ in first[6]} == {"alice", "bob", "admin"}
    assert ("demo-web", "public", "authorization-code") in first[3]
    assert ("demo-device", "public", "urn:ietf:params:oauth:grant-type:device_code") in first[3]
    assert client.login(username="alice", password="alice-password")
    response = post_token({"grant_type": "client_credentials"}, ("demo-service", "demo-service-secret"))
    assert response.status_code == 200, response.content
    assert set(response.json()["scope"].split()) == {"mcp:read", "mcp:tools", "mcp:prompts"}


def test_seed_demo_password_grant_for_every_user(demo, post_token):
    for username, scopes in [("alice", 3), ("bob", 3), ("admin", 3), ("guest", 1)]:
        response = post_token(
            {
                "grant_type": "password",
                "client_id": "demo-cli",
                "username": username,
                "password": f"{username}-password",
            }
        )
        assert response.status_code == 200, (username, response.content)
        assert len(response.json()["scope"].split()) == scopes


def test_seed_demo_keeps_what_an_administrator_changed(demo, post_token, client):
    """Run on every ``dev.py serve``: it creates what is missing and overwrites nothing."""
    alice = User.objects.get(username="alice")
    alice.set_password("a-new-secret-phrase")
    alice.save()
    admin = User.objects.get(username="admin")
    admin.is_superuser = admin.is_staff = False
    admin.save()
    bob = User.objects.get(username="bob")
    bob.roles.set(Role.objects.filter(name="guest"))
    service = get_application_model().objects.get(client_id="demo-service")
    service.client_secret = "a-rotated-service-secret"
    service.save()
    guest = Role.objects.get(name="guest")
    guest.scopes.set(Scope.objects.filter(name="mcp:tools"))
    ceiling = ClientPolicy.objects.get(application__client_id="demo-cli")
    ceiling.scopes.set(Scope.objects.filter(name="mcp:read"))
    Scope.objects.filter(name="mcp:read").update(description="Changed by an admin")
    note = Note.objects.get(title="Grocery list")
    note.title, note.body = "Shopping", "Only coffee"
    note.save()
    bobs = Note.objects.get(title="Bike maintenance")
    bobs.owner = alice
    bobs.save()

    assert "(0 objects created)" in run("seed_demo")

    assert client.login(username="alice", password="a-new-secret-phrase")
    assert not client.login(username="alice", password="alice-password")
    admin.refresh_from_db()
    assert not admin.is_superuser and not admin.is_staff
    assert bob.role_names() == ["guest"]
    assert list(guest.scopes.values_list("name", flat=True)) == ["mcp:tools"]
    assert list(ceiling.scopes.values_list("name", flat=True)) == ["mcp:read"]
    assert Scope.objects.get(name="mcp:read").description == "Changed by an admin"
    refused = post_token({"grant_type": "client_credentials"}, ("demo-service", "demo-service-secret"))
    assert refused.status_code == 401
    rotated = post_token({"grant_type": "client_credentials"}, ("demo-service", "a-rotated-service-secret"))
    assert rotated.status_code == 200, rotated.content
    assert Note.objects.filter(title="Grocery list").count() == 0
    assert Note.objects.get(key=note.key).body == "Only coffee"
    assert Note.objects.get(key=bobs.key).owner == alice
    assert Note.objects.count() == 6


def test_seed_demo_recreates_what_is_missing(demo):
    User.objects.filter(username="bob").delete()
    get_application_model().objects.filter(client_id="demo-web").delete()
    Role.objects.filter(name="guest").delete()
    run("seed_demo")
    bob = User.objects.get(username="bob")
    assert bob.check_password("bob-password") and bob.role_names() == ["user"]
    assert get_application_model().objects.filter(client_id="demo-web").exists()
    assert User.objects.get(username="guest").role_names() == []  # an existing user keeps its roles
    assert sorted(Role.objects.get(name="guest").scopes.values_list("name", flat=True)) == ["mcp:read"]
    # bob's notes went with him and came back with him
    assert set(bob.notes.values_list("title", flat=True)) == {"Bike maintenance", "Coffee brewing notes"}


def test_seed_demo_recreates_a_deleted_note_as_the_fixture_has_it(demo):
    """Matched by its key: a deleted demo note comes back on the next seed (delete the owner, or leave
    ``notes`` out of INSTALLED_APPS, to keep the demo notes away)."""
    note = Note.objects.get(title="Reading list")
    note.delete()
    assert "(1 objects created)" in run("seed_demo")
    again = Note.objects.get(key=note.key)
    assert (again.owner.username, again.title, again.created) == ("alice", "Reading list", note.created)


def test_seed_demo_without_the_example_app_seeds_the_rest(db, settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "notes"]
    run("seed_demo")
    assert User.objects.filter(username="alice").exists()
    assert not Note.objects.exists()


def test_create_client_introspect_makes_a_resource_server(world):
    from authserver.models import ClientPolicy

    args = ["create_client", "--grant", "client-credentials", "--scopes", "mcp:read", "--json"]
    plain = json.loads(run(*args, "--name", "Plain"))
    resource_server = json.loads(run(*args, "--name", "API", "--introspect"))
    assert not ClientPolicy.objects.get(application__client_id=plain["client_id"]).may_introspect
    assert ClientPolicy.objects.get(application__client_id=resource_server["client_id"]).may_introspect


def test_seed_demo_lets_the_demo_service_introspect(demo):
    from authserver.models import ClientPolicy

    assert ClientPolicy.objects.get(application__client_id="demo-service").may_introspect
    assert not ClientPolicy.objects.get(application__client_id="demo-cli").may_introspect

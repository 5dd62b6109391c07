"""The Django admin: every model an admin manages loads, edits and acts without a shell."""

from __future__ import annotations

import hashlib

import pytest
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

import sharedstate
from authserver import keys
from authserver.grants import DEVICE_CODE as DEVICE
from authserver.models import ClientPolicy, Role, Scope, SigningKey, User


@pytest.fixture
def admin_client(world, client, make_user):
    superuser = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(superuser)
    return client


@pytest.fixture
def tokens(world, password_token, cc_token):
    return {"user": password_token("alice"), "service": cc_token()}


def _ok(response):
    assert response.status_code == 200, (response.status_code, response.content[:300])
    return response.content.decode()


def test_admin_needs_staff(world, client):
    client.force_login(world.users["alice"])
    assert client.get("/admin/authserver/user/").status_code == 302


def test_users_changelist_shows_roles(admin_client, world):
    html = _ok(admin_client.get("/admin/authserver/user/"))
    assert "alice" in html and "writer" in html


def test_user_change_page_has_the_roles_field_and_saves_it(admin_client, world):
    alice = world.users["alice"]
    html = _ok(admin_client.get(f"/admin/authserver/user/{alice.pk}/change/"))
    assert 'name="roles"' in html
    data = {
        "username": "alice",
        "email": "",
        "first_name": "",
        "last_name": "",
        "is_active": "on",
        "roles": [world.roles["reader"].pk, world.roles["prompter"].pk],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    response = admin_client.post(f"/admin/authserver/user/{alice.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    assert User.objects.get(pk=alice.pk).role_names() == ["prompter", "reader"]


def test_roles_pages(admin_client, world):
    html = _ok(admin_client.get("/admin/authserver/role/"))
    assert "writer" in html and "mcp:tools" in html
    role = world.roles["writer"]
    assert 'name="scopes"' in _ok(admin_client.get(f"/admin/authserver/role/{role.pk}/change/"))
    response = admin_client.post(
        "/admin/authserver/role/add/",
        {
            "name": "auditor",
            "description": "Reads",
            "scopes": [world.scopes["mcp:read"].pk],
        },
    )
    assert response.status_code == 302
    assert list(Role.objects.get(name="auditor").scopes.values_list("name", flat=True)) == ["mcp:read"]


def test_scopes_pages(admin_client, world):
    assert "mcp:admin" in _ok(admin_client.get("/admin/authserver/scope/"))
    scope = world.scopes["mcp:read"]
    _ok(admin_client.get(f"/admin/authserver/scope/{scope.pk}/change/"))
    response = admin_client.post("/admin/authserver/scope/add/", {"name": "mcp:new", "description": "New"})
    assert response.status_code == 302
    assert Scope.objects.filter(name="mcp:new").exists()


def test_scope_names_are_validated(admin_client, world):
    response = admin_client.post("/admin/authserver/scope/add/", {"name": 'bad "scope"', "description": "x"})
    assert response.status_code == 200
    assert not Scope.objects.filter(description="x").exists()


def test_application_pages_with_the_scope_ceiling_inline(admin_client, world):
    _ok(admin_client.get("/admin/oauth2_provider/application/"))
    application = world.clients["service"].application
    html = _ok(admin_client.get(f"/admin/oauth2_provider/application/{application.pk}/change/"))
    assert "scope ceiling" in html.lower()
    assert 'name="policy-0-scopes"' in html
    assert "authorization_grant_type" in html


def test_application_add_with_a_ceiling(admin_client, world):
    html = _ok(admin_client.get("/admin/oauth2_provider/application/add/"))
    assert "policy-0-scopes" in html
    data = {
        "client_id": "admin-made",
        "client_secret": "a-very-long-secret-value-typed-by-the-admin",
        "hash_client_secret": "on",
        "client_type": "confidential",
        "authorization_grant_type": "client-credentials",
        "name": "Admin made",
        "redirect_uris": "",
        "post_logout_redirect_uris": "",
        "allowed_origins": "",
        "algorithm": "",
        "policy-TOTAL_FORMS": "1",
        "policy-INITIAL_FORMS": "0",
        "policy-MIN_NUM_FORMS": "0",
        "policy-MAX_NUM_FORMS": "1",
        "policy-0-scopes": [world.scopes["mcp:read"].pk],
    }
    response = admin_client.post("/admin/oauth2_provider/application/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    application = get_application_model().objects.get(client_id="admin-made")
    assert list(application.policy.scopes.values_list("name", flat=True)) == ["mcp:read"]


def test_access_token_pages_show_no_raw_token(admin_client, tokens):
    raw = tokens["user"]["access_token"]
    html = _ok(admin_client.get("/admin/oauth2_provider/accesstoken/"))
    assert raw not in html
    row = get_access_token_model().objects.get(token_checksum=hashlib.sha256(raw.encode()).hexdigest())
    html = _ok(admin_client.get(f"/admin/oauth2_provider/accesstoken/{row.pk}/change/"))
    assert raw not in html
    assert raw[:40] not in html


def test_refresh_token_pages_show_no_raw_token(admin_client, tokens):
    raw = tokens["user"]["refresh_token"]
    html = _ok(admin_client.get("/admin/oauth2_provider/refreshtoken/"))
    assert raw not in html
    row = get_refresh_token_model().objects.get()
    assert raw not in _ok(admin_client.get(f"/admin/oauth2_provider/refreshtoken/{row.pk}/change/"))


def test_revoking_access_tokens_from_the_admin_publishes_them(admin_client, tokens):
    raw = tokens["service"]["access_token"]
    rows = get_access_token_model().objects.all()
    actions = _ok(admin_client.get("/admin/oauth2_provider/accesstoken/"))
    assert "revoke_tokens" in actions
    action = "revoke_tokens"
    data = {"action": action, "_selected_action": [r.pk for r in rows], "post": "yes"}
    response = admin_client.post("/admin/oauth2_provider/accesstoken/", data)
    assert response.status_code in (200, 302)
    assert not get_access_token_model().objects.exists()
    assert sharedstate.get("revoked-token:" + hashlib.sha256(raw.encode()).hexdigest()) is not None


def test_revoking_refresh_tokens_from_the_admin_stops_refresh_and_publishes_the_access_token(
    admin_client, world, tokens, post_token
):
    issued = tokens["user"]
    row = get_refresh_token_model().objects.get()
    response = admin_client.post(
        "/admin/oauth2_provider/refreshtoken/", {"action": "revoke_tokens", "_selected_action": [row.pk]}
    )
    assert response.status_code == 302
    checksum = hashlib.sha256(issued["access_token"].encode()).hexdigest()
    assert sharedstate.get("revoked-token:" + checksum) is not None
    refreshed = post_token(
        {
            "grant_type": "refresh_token",
            "refresh_token": issued["refresh_token"],
            "client_id": world.clients["cli"].client_id,
        }
    )
    assert refreshed.status_code == 400


def test_signing_key_pages_hide_the_private_key(admin_client, world):
    key = keys.ensure_key()
    html = _ok(admin_client.get("/admin/authserver/signingkey/"))
    assert key.kid in html and "active" in html
    html = _ok(admin_client.get(f"/admin/authserver/signingkey/{key.pk}/change/"))
    assert key.kid in html
    assert "PRIVATE KEY" not in html
    assert key.private_key.splitlines()[1] not in html


def test_rotate_admin_action_creates_a_new_current_key(admin_client, world):
    old = keys.ensure_key()
    response = admin_client.post(
        "/admin/authserver/signingkey/", {"action": "rotate", "_selected_action": [old.pk]}, follow=True
    )
    assert response.status_code == 200
    current = SigningKey.objects.current()
    assert current.kid != old.kid
    assert SigningKey.objects.get(pk=old.pk).retired_at is not None
    assert current.kid in response.content.decode()


def test_a_key_that_still_verifies_cannot_be_deleted(admin_client, world):
    old = keys.ensure_key()
    current = keys.rotate()
    for key in (old, current):
        response = admin_client.post(f"/admin/authserver/signingkey/{key.pk}/delete/", {"post": "yes"})
        assert response.status_code == 403
    changelist = _ok(admin_client.get("/admin/authserver/signingkey/"))
    assert "delete_selected" not in changelist
    assert SigningKey.objects.count() == 2


def test_a_key_past_every_token_lifetime_can_be_deleted(admin_client, world):
    from datetime import timedelta

    from django.utils import timezone

    old = keys.ensure_key()
    keys.rotate()
    SigningKey.objects.filter(pk=old.pk).update(verify_until=timezone.now() - timedelta(seconds=1))
    response = admin_client.post(f"/admin/authserver/signingkey/{old.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not SigningKey.objects.filter(pk=old.pk).exists()


def test_add_user_with_roles(admin_client, world):
    response = admin_client.post(
        "/admin/authserver/user/add/",
        {
            "username": "carol",
            "password1": "a-Long-unusual-passphrase-42",
            "password2": "a-Long-unusual-passphrase-42",
            "usable_password": "true",
            "roles": [world.roles["reader"].pk],
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    carol = User.objects.get(username="carol")
    assert carol.role_names() == ["reader"]
    assert carol.check_password("a-Long-unusual-passphrase-42")


def test_deleting_an_application_in_the_admin_deletes_its_ceiling(admin_client, world):
    application = world.clients["service"].application
    url = f"/admin/oauth2_provider/application/{application.pk}/delete/"
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not ClientPolicy.objects.filter(application_id=application.pk).exists()


# --- the client form offers only what the server supports ---


def _client_form(world, **overrides) -> dict:
    data = {
        "client_id": "admin-made",
        "client_secret": "a-very-long-secret-value-typed-by-the-admin",
        "hash_client_secret": "on",
        "client_type": "confidential",
        "authorization_grant_type": "client-credentials",
        "name": "Admin made",
        "redirect_uris": "",
        "allowed_origins": "",
        "policy-TOTAL_FORMS": "1",
        "policy-INITIAL_FORMS": "0",
        "policy-MIN_NUM_FORMS": "0",
        "policy-MAX_NUM_FORMS": "1",
        "policy-0-scopes": [world.scopes["mcp:read"].pk],
    }
    data.update(overrides)
    return data


def test_client_form_offers_only_supported_grants_and_no_oidc_fields(admin_client, world):
    form = admin_client.get("/admin/oauth2_provider/application/add/").context["adminform"].form
    offered = {value for value, _ in form.fields["authorization_grant_type"].choices}
    assert offered == {"authorization-code", "client-credentials", "password", DEVICE}
    assert "algorithm" not in form.fields
    assert "post_logout_redirect_uris" not in form.fields


@pytest.mark.parametrize("grant", ["implicit", "openid-hybrid"])
def test_client_form_refuses_a_grant_the_server_does_not_support(admin_client, world, grant):
    response = admin_client.post("/admin/oauth2_provider/application/add/", _client_form(world, authorization_grant_type=grant))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["authorization_grant_type"]
    assert "not supported" in errors[0]
    assert not get_application_model().objects.filter(client_id="admin-made").exists()


def test_a_device_client_with_its_own_refresh_grace_is_made_in_the_admin(admin_client, world):
    grace = {"policy-0-refresh_grace_seconds": "2"}
    form = _client_form(world, authorization_grant_type=DEVICE, client_type="public", **grace)
    response = admin_client.post("/admin/oauth2_provider/application/add/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    application = get_application_model().objects.get(client_id="admin-made")
    assert application.authorization_grant_type == DEVICE and application.policy.refresh_grace_seconds == 2


def test_a_refresh_grace_beyond_the_servers_is_refused_in_the_admin(admin_client, world):
    form = _client_form(world, **{"policy-0-refresh_grace_seconds": "6"})
    response = admin_client.post("/admin/oauth2_provider/application/add/", form)
    assert response.status_code == 200
    assert "server's window" in response.content.decode()
    assert not get_application_model().objects.filter(client_id="admin-made").exists()


def test_token_exchange_audiences_are_set_in_the_admin(admin_client, world):
    targets = "https://api.example/v1\nhttps://files.example/"
    form = _client_form(world, **{"policy-0-token_exchange_audiences": targets})
    response = admin_client.post("/admin/oauth2_provider/application/add/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy = get_application_model().objects.get(client_id="admin-made").policy
    assert policy.exchange_audiences == ["https://api.example/v1", "https://files.example/"]


def test_a_token_exchange_audience_that_is_no_uri_is_refused_in_the_admin(admin_client, world):
    form = _client_form(world, **{"policy-0-token_exchange_audiences": "https://api.example/\nfiles"})
    response = admin_client.post("/admin/oauth2_provider/application/add/", form)
    assert response.status_code == 200
    assert "is not an absolute http(s) URI" in response.content.decode()
    assert not get_application_model().objects.filter(client_id="admin-made").exists()


def test_client_form_refuses_a_grant_switched_off_in_settings(admin_client, world, settings):
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "client_credentials", "refresh_token"],
    }
    response = admin_client.post("/admin/oauth2_provider/application/add/", _client_form(world, authorization_grant_type="password"))
    assert response.status_code == 200
    assert "authorization_grant_type" in response.context["adminform"].form.errors


def test_a_client_with_an_empty_ceiling_is_flagged(admin_client, world):
    data = _client_form(world)
    del data["policy-0-scopes"]
    response = admin_client.post("/admin/oauth2_provider/application/add/", data, follow=True)
    assert response.status_code == 200
    warnings = [str(m) for m in response.context["messages"]]
    assert any("no scope" in m and "no token" in m for m in warnings), warnings
    html = _ok(admin_client.get("/admin/oauth2_provider/application/"))
    assert "none: grants nothing" in html


# --- access tokens: read-only pages, a Revoke button, the scope column ---


def _row(raw: str):
    return get_access_token_model().objects.get(token_checksum=hashlib.sha256(raw.encode()).hexdigest())


def test_access_token_change_page_is_read_only(admin_client, tokens):
    row = _row(tokens["user"]["access_token"])
    url = f"/admin/oauth2_provider/accesstoken/{row.pk}/change/"
    html = _ok(admin_client.get(url))
    assert 'name="scope"' not in html and 'name="expires' not in html
    assert admin_client.post(url, {"scope": "mcp:admin", "expires_0": "2999-01-01"}).status_code == 403
    row.refresh_from_db()
    assert "mcp:admin" not in row.scope


def test_access_token_detail_page_revoke_button(admin_client, tokens):
    raw = tokens["user"]["access_token"]
    row = _row(raw)
    revoke_url = f"/admin/oauth2_provider/accesstoken/{row.pk}/revoke/"
    html = _ok(admin_client.get(f"/admin/oauth2_provider/accesstoken/{row.pk}/change/"))
    assert f'action="{revoke_url}"' in html and 'method="post"' in html and "csrfmiddlewaretoken" in html
    assert admin_client.get(revoke_url).status_code == 405
    response = admin_client.post(revoke_url)
    assert response.status_code == 302 and response["Location"].endswith("/admin/oauth2_provider/accesstoken/")
    assert not get_access_token_model().objects.filter(pk=row.pk).exists()
    assert sharedstate.get("revoked-token:" + row.token_checksum) is not None


def test_access_token_revoke_needs_the_change_permission(world, client, make_user, tokens):
    row = _row(tokens["user"]["access_token"])
    viewer = make_user("viewer", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_accesstoken"))
    client.force_login(viewer)
    _ok(client.get(f"/admin/oauth2_provider/accesstoken/{row.pk}/change/"))
    assert client.post(f"/admin/oauth2_provider/accesstoken/{row.pk}/revoke/").status_code == 403
    assert get_access_token_model().objects.filter(pk=row.pk).exists()


def test_access_token_list_shows_scopes_and_no_empty_column(admin_client, tokens):
    changelist = admin_client.get("/admin/oauth2_provider/accesstoken/").context["cl"]
    assert "scope" in changelist.list_display
    assert "masked_token" not in changelist.list_display  # hashed storage: always empty
    html = _ok(admin_client.get("/admin/oauth2_provider/accesstoken/"))
    assert "mcp:read mcp:tools" in html


def test_retire_now_withdraws_a_key_from_the_jwks(admin_client, world):
    old = keys.ensure_key()
    current = keys.rotate()
    response = admin_client.post(
        "/admin/authserver/signingkey/",
        {"action": "retire_compromised", "_selected_action": [old.pk]},
        follow=True,
    )
    assert "withdrawn" in _ok(response)
    assert SigningKey.objects.get(pk=old.pk).compromised_at is not None
    published = {key["kid"] for key in admin_client.get("/.well-known/jwks.json").json()["keys"]}
    assert published == {current.kid}
    # Out of the JWKS, it verifies nothing: it may go.
    response = admin_client.post(f"/admin/authserver/signingkey/{old.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302


def test_retire_now_refuses_the_current_key(admin_client, world):
    current = keys.ensure_key()
    response = admin_client.post(
        "/admin/authserver/signingkey/",
        {"action": "retire_compromised", "_selected_action": [current.pk]},
        follow=True,
    )
    assert "rotate" in _ok(response).lower()
    assert SigningKey.objects.get(pk=current.pk).compromised_at is None


def test_the_access_token_list_leaves_registration_tokens_out(admin_client, world, client, tokens):
    body = {"redirect_uris": ["http://127.0.0.1:33418/callback"], "token_endpoint_auth_method": "none"}
    registered = client.post("/oauth/register/", body, content_type="application/json").json()
    admin_client.force_login(User.objects.get(username="root"))
    page = _ok(admin_client.get("/admin/oauth2_provider/accesstoken/"))
    registration = get_access_token_model().objects.get(application__client_id=registered["client_id"])
    assert f"/admin/oauth2_provider/accesstoken/{registration.pk}/change/" not in page
    for row in get_access_token_model().objects.exclude(pk=registration.pk):
        assert f"/admin/oauth2_provider/accesstoken/{row.pk}/change/" in page


def test_an_administrator_sees_and_filters_the_introspection_flag(admin_client, world):
    application = world.clients["service"].application
    page = _ok(admin_client.get(f"/admin/oauth2_provider/application/{application.pk}/change/"))
    assert 'name="policy-0-may_introspect"' in page
    listed = _ok(admin_client.get("/admin/oauth2_provider/application/?policy__may_introspect__exact=1"))
    assert world.clients["service"].client_id in listed
    assert world.clients["backend"].client_id not in listed


def _client_with_keys(world, **policy) -> dict:
    return {
        "client_id": "signer", "client_secret": "unused-secret-of-a-signing-client", "hash_client_secret": "on",
        "client_type": "confidential", "authorization_grant_type": "client-credentials", "name": "Signer",
        "redirect_uris": "", "post_logout_redirect_uris": "", "allowed_origins": "", "algorithm": "",
        "policy-TOTAL_FORMS": "1", "policy-INITIAL_FORMS": "0", "policy-MIN_NUM_FORMS": "0",
        "policy-MAX_NUM_FORMS": "1", "policy-0-scopes": [world.scopes["mcp:read"].pk],
        **{f"policy-0-{name}": value for name, value in policy.items()},
    }  # fmt: skip


def test_a_signing_client_is_registered_with_public_keys_only(admin_client, world):
    import json

    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    key = ec.generate_private_key(ec.SECP256R1())
    private = json.loads(ECAlgorithm.to_jwk(key))
    public = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    url = "/admin/oauth2_provider/application/add/"
    method = {"token_endpoint_auth_method": "private_key_jwt"}
    html = _ok(admin_client.post(url, _client_with_keys(world, **method, jwks=json.dumps({"keys": [private]}))))
    assert "private key material" in html
    html = _ok(admin_client.post(url, _client_with_keys(world, **method)))
    assert "exactly one of jwks and jwks_uri" in html
    html = _ok(admin_client.post(url, _client_with_keys(world, jwks=json.dumps({"keys": [public]}))))
    assert "Only a private_key_jwt client registers keys" in html
    response = admin_client.post(url, _client_with_keys(world, **method, jwks=json.dumps({"keys": [public]})))
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = get_application_model().objects.get(client_id="signer").policy
    assert policy.signs_assertions and policy.jwks == {"keys": [public]}

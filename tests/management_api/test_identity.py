"""Users, roles and scopes through the API: what is stored, what is never shown, what a change revokes."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry

from authserver.models import Role, Scope, User

pytestmark = pytest.mark.django_db


def test_a_user_is_created_with_roles_and_a_hashed_password_never_shown(api):
    response = api.post("users/", {"username": "carol", "password": "a-long-pass-phrase", "roles": ["user"]})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["roles"] == ["user"] and "password" not in body
    carol = User.objects.get(username="carol")
    assert carol.password != "a-long-pass-phrase" and carol.check_password("a-long-pass-phrase")
    assert "password" not in api.get(f"users/{carol.pk}/").json()
    entry = LogEntry.objects.get(object_id=str(carol.pk), content_type__model="user")
    assert (entry.action_flag, entry.user.username) == (ADDITION, "root")


def test_a_user_created_without_a_password_cannot_sign_in_with_one(api):
    assert api.post("users/", {"username": "nopass"}).status_code == 201
    assert not User.objects.get(username="nopass").has_usable_password()


@pytest.mark.parametrize(
    "body",
    [
        {"username": "dave", "password": "short"},
        {"username": "dave", "email": "dave-smith-99@x.test", "password": "dave-smith-99"},  # like the email
        {"username": "has space"},
        {"username": "root"},  # taken
        {"username": "dave", "roles": ["no-such-role"]},
        {"username": "dave", "roles": "user"},
        {"username": ["dave"]},
        {"username": "x" * 151},
        {"username": "dave", "is_superuser": True, "email": "not-an-email"},
    ],
)
def test_invalid_users_are_refused_with_field_errors(api, body):
    response = api.post("users/", body)
    assert response.status_code == 400, response.content
    assert isinstance(response.json(), dict) and response.json()
    assert not User.objects.filter(username="dave").exists()


def test_superuser_status_is_not_the_apis_to_give(api, people):
    response = api.patch(f"users/{people['user'].pk}/", {"is_superuser": True})
    assert response.status_code == 200
    assert response.json()["is_superuser"] is False


def test_bodies_that_are_not_json_objects_are_400(api):
    for raw in ["[1, 2]", "not json", '"text"', "{"]:
        response = api.client.post(
            "/api/v1/users/", raw, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api.token}"
        )
        assert response.status_code == 400, (raw, response.content)


def test_taking_a_role_away_revokes_that_users_tokens_at_once(api, tokens, people):
    reader = api.as_(tokens["reader"])
    assert reader.get("users/").status_code == 200
    response = api.patch(f"users/{people['reader'].pk}/", {"roles": ["user"]})
    assert response.status_code == 200
    assert response.json()["roles"] == ["user"]
    assert reader.get("users/").status_code == 401
    entry = LogEntry.objects.get(object_id=str(people["reader"].pk), action_flag=CHANGE)
    assert entry.change_message.startswith("Changed roles (through the management API")


def test_deactivating_a_user_revokes_their_tokens(api, tokens, people):
    assert api.patch(f"users/{people['reader'].pk}/", {"is_active": False}).status_code == 200
    assert api.as_(tokens["reader"]).get("users/").status_code == 401


def test_users_filter_by_role_and_page(api, people):
    assert [user["username"] for user in api.get("users/?role=api-admin").json()["results"]] == ["root"]
    page = api.get("users/?page_size=2&ordering=-username").json()
    assert page["count"] == 3 and [u["username"] for u in page["results"]] == ["user", "root"]
    assert api.get("users/?page=99").status_code == 404


def test_roles_grant_scopes_by_name_and_losing_one_revokes(api, tokens, roles):
    reader_role = roles["reader"]
    assert api.get(f"roles/{reader_role.pk}/").json()["scopes"] == ["admin:read"]
    assert api.patch(f"roles/{reader_role.pk}/", {"scopes": []}).status_code == 200
    assert api.as_(tokens["reader"]).get("users/").status_code == 401
    assert api.patch(f"roles/{reader_role.pk}/", {"scopes": ["nope"]}).status_code == 400
    created = api.post("roles/", {"name": "auditor", "scopes": ["admin:read"]})
    assert created.status_code == 201 and Role.objects.get(name="auditor").scopes.names() == {"admin:read"}


def test_scopes_are_validated_and_role_only_is_writable(api):
    assert api.post("scopes/", {"name": "has space", "description": "x"}).status_code == 400
    assert api.post("scopes/", {"name": 'quo"te', "description": "x"}).status_code == 400
    response = api.post("scopes/", {"name": "notes:read", "description": "Read notes", "role_only": True})
    assert response.status_code == 201
    assert response.json() == {**response.json(), "name": "notes:read", "role_only": True, "is_default": True}
    scope = Scope.objects.get(name="notes:read")
    assert api.delete(f"scopes/{scope.pk}/").status_code == 204
    assert LogEntry.objects.filter(object_id=str(scope.pk), action_flag=DELETION).exists()


def test_a_name_no_database_can_hold_is_400(api):
    """A NUL character makes PostgreSQL fail the lookup: it is refused before (400, not 500)."""
    assert api.post("users/", {"username": "eve", "roles": ["us\x00er"]}).status_code == 400
    assert api.post("roles/", {"name": "r", "scopes": ["\x00"]}).status_code == 400

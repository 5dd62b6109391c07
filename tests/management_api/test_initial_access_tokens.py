"""Initial access tokens through the API: the value shown once and stored as a checksum, and it lets a
client register under ``DCR_POLICY=token``; records, filters, revocation, the admin's history."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.utils import timezone

from authserver.models import InitialAccessToken, token_checksum

pytestmark = pytest.mark.django_db
REGISTRATION = {
    "redirect_uris": ["http://127.0.0.1:33418/callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "client_name": "Registered with an initial access token",
    "token_endpoint_auth_method": "none",
}


@pytest.fixture
def token_policy(settings):
    """Registration needs an initial access token, as ``DCR_POLICY=token`` configures it."""
    settings.AUTHSERVER = {**settings.AUTHSERVER, "DCR_POLICY": "token"}
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "DCR_REGISTRATION_PERMISSION_CLASSES": settings.DCR_PERMISSION_CLASSES["token"],
    }


def register(wsgi_client, value: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {value}"} if value else {}
    return wsgi_client.post(
        "/oauth/register/", json.dumps(REGISTRATION), content_type="application/json", **headers
    )


def create(api, **fields) -> dict:
    response = api.post("initial-access-tokens/", {"description": "for the tests", **fields})
    assert response.status_code == 201, response.content
    return response.json()


def test_the_value_is_shown_once_and_registers_a_client(api, wsgi_client, token_policy):
    made = create(api, max_uses=1)
    value = made["initial_access_token"]
    row = InitialAccessToken.objects.get(pk=made["id"])
    assert row.token_checksum == token_checksum(value) and value not in row.token_checksum
    assert made["usable"] is True and made["uses"] == 0 and made["created_by_username"] == "root"
    assert register(wsgi_client, None).status_code == 401
    registered = register(wsgi_client, value)
    assert registered.status_code == 201, registered.content
    shown = api.get(f"initial-access-tokens/{made['id']}/").json()
    assert shown["uses"] == 1 and shown["usable"] is False
    assert register(wsgi_client, value).status_code == 401  # its one use is spent


def test_lists_and_details_never_show_the_value_or_its_checksum(api):
    made = create(api)
    value, checksum = made["initial_access_token"], token_checksum(made["initial_access_token"])
    for path in ["initial-access-tokens/", f"initial-access-tokens/{made['id']}/"]:
        response = api.get(path)
        assert response.status_code == 200
        assert value.encode() not in response.content and checksum.encode() not in response.content
    shown = api.get(f"initial-access-tokens/{made['id']}/").json()
    assert not {"initial_access_token", "token", "token_checksum", "value"} & set(shown)
    changed = api.patch(f"initial-access-tokens/{made['id']}/", {"description": "renamed"})
    assert changed.status_code == 200 and value.encode() not in changed.content


def test_admin_read_lists_but_cannot_create(api, tokens):
    reader = api.as_(tokens["reader"])
    assert reader.get("initial-access-tokens/").status_code == 200
    refused = reader.post("initial-access-tokens/", {"description": "nope"})
    assert refused.status_code == 403 and "admin:write" in refused["WWW-Authenticate"]
    assert not InitialAccessToken.objects.exists()


def test_every_write_is_in_the_admins_history_without_the_value(api):
    made = create(api)
    row = InitialAccessToken.objects.get(pk=made["id"])
    assert row.created_by.username == "root"
    assert api.post(f"initial-access-tokens/{row.pk}/revoke/").status_code == 200
    assert api.delete(f"initial-access-tokens/{row.pk}/").status_code == 204
    entries = LogEntry.objects.filter(object_id=str(row.pk), object_repr="for the tests").order_by("id")
    assert [entry.action_flag for entry in entries] == [ADDITION, CHANGE, DELETION]
    for entry in entries:
        assert entry.user.username == "root"
        assert "through the management API, client tests-management-api" in entry.change_message
        assert made["initial_access_token"] not in entry.change_message
    assert "Revoked" in entries[1].change_message


def test_a_revoked_token_keeps_its_record_and_registers_nothing(api, wsgi_client, token_policy):
    made = create(api)
    revoked = api.post(f"initial-access-tokens/{made['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["usable"] is False
    assert revoked.json()["expires_at"] is not None
    assert register(wsgi_client, made["initial_access_token"]).status_code == 401


def test_a_deleted_token_registers_nothing(api, wsgi_client, token_policy):
    made = create(api)
    assert api.delete(f"initial-access-tokens/{made['id']}/").status_code == 204
    assert api.get(f"initial-access-tokens/{made['id']}/").status_code == 404
    assert register(wsgi_client, made["initial_access_token"]).status_code == 401


def ids(api, query: str) -> set[str]:
    response = api.get(f"initial-access-tokens/?{query}")
    assert response.status_code == 200, response.content
    return {item["description"] for item in response.json()["results"]}


def test_filters_usable_expired_used_and_used_up(api):
    now = timezone.now()
    rows = {
        "fresh": {},
        "expired": {"expires_at": now - timedelta(minutes=1)},
        "used once": {"uses": 1},
        "used up": {"uses": 2, "max_uses": 2},
        "later": {"expires_at": now + timedelta(days=1), "max_uses": 5},
    }
    for number, (name, fields) in enumerate(rows.items()):
        InitialAccessToken.objects.create(description=name, token_checksum=str(number), **fields)
    assert ids(api, "usable=true") == {"fresh", "used once", "later"}
    assert ids(api, "usable=false") == {"expired", "used up"}
    assert ids(api, "expired=true") == {"expired"}
    assert ids(api, "expired=false") == {"fresh", "used once", "used up", "later"}
    assert ids(api, "used=true") == {"used once", "used up"}
    assert ids(api, "used=false") == {"fresh", "expired", "later"}
    assert ids(api, "used_up=true") == {"used up"}
    assert ids(api, "used_up=false") == {"fresh", "expired", "used once", "later"}
    results = api.get("initial-access-tokens/").json()["results"]
    listed = {item["description"]: item["usable"] for item in results}
    assert listed == {"fresh": True, "expired": False, "used once": True, "used up": False, "later": True}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"description": ""},
        {"description": "x" * 201},
        {"description": "ok", "max_uses": 0},
        {"description": "ok", "max_uses": 2**31},
        {"description": "ok", "expires_at": "2000-01-01T00:00:00Z"},
        {"description": "ok", "expires_at": "not a moment"},
        {"description": "nul\x00"},
    ],
)
def test_bad_input_is_a_400_and_creates_nothing(api, body):
    response = api.post("initial-access-tokens/", body)
    assert response.status_code == 400, response.content
    assert not InitialAccessToken.objects.exists()

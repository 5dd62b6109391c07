"""The example app's REST API: the same tokens as /mcp, the same rules as its tools."""

from __future__ import annotations

import uuid

import pytest

from tests.mcpserver.conftest import mcp_settings  # noqa: F401  (the MCP tests' settings, autouse)
from tests.notes.test_mcp import notes, tokens  # noqa: F401  (users with roles and their tokens; notes)

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(wsgi_client, tokens):  # noqa: F811
    def request(who, method="get", path="/api/notes/", body=None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {tokens[who][1]}"} if who else {}
        if body is None:
            return getattr(wsgi_client, method)(path, **headers)
        return getattr(wsgi_client, method)(path, body, content_type="application/json", **headers)

    return request


def titles(response):
    return sorted(note["title"] for note in response.json()["results"])


def test_the_mcp_token_reads_the_callers_notes(api, notes):  # noqa: F811
    assert titles(api("alice")) == ["Grocery list", "Team offsite"]
    assert titles(api("bob")) == ["Bike maintenance"]
    assert titles(api("root")) == ["Bike maintenance", "Grocery list", "Team offsite"]
    assert titles(api("alice", path="/api/notes/?search=lemons")) == ["Grocery list"]


def test_without_a_token_the_challenge_names_the_scope(api):
    response = api(None)
    assert response.status_code == 401
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and 'scope="mcp:read"' in challenge


def test_a_foreign_note_is_not_found(api, notes):  # noqa: F811
    key = notes["bike"].key
    assert api("bob", path=f"/api/notes/{key}/").json()["title"] == "Bike maintenance"
    assert api("alice", path=f"/api/notes/{key}/").status_code == 404
    assert api("alice", path=f"/api/notes/{uuid.uuid4()}/").status_code == 404
    assert api("alice", "delete", f"/api/notes/{key}/").status_code == 404
    assert api("root", "patch", f"/api/notes/{key}/", {"title": "x"}).status_code == 404  # admins read only


def test_a_user_creates_and_edits_their_own(api):
    from notes.models import Note

    created = api("alice", "post", body={"title": "Dentist", "body": "Thursday"})
    assert created.status_code == 201 and created.json()["owner"] == "alice"
    key = created.json()["key"]
    assert api("alice", "patch", f"/api/notes/{key}/", {"body": "Friday"}).json()["body"] == "Friday"
    assert Note.objects.get(key=key).body == "Friday"
    assert api("alice", "post", body={"title": ""}).status_code == 400  # DRF's validation, as JSON


def test_a_read_only_role_cannot_write(api):
    from notes.models import Note

    response = api("guest", "post", body={"title": "x"})
    assert response.status_code == 403
    assert not Note.objects.exists()


def test_a_revoked_token_is_refused_at_once(api, tokens, notes):  # noqa: F811
    import hashlib

    from oauth2_provider.models import get_access_token_model

    from authserver import revoking

    assert api("alice").status_code == 200
    revoking.revoke_access_token(get_access_token_model().objects.get(
        token_checksum=hashlib.sha256(tokens["alice"][1].encode()).hexdigest()
    ))
    response = api("alice")
    assert response.status_code == 401 and 'error="invalid_token"' in response["WWW-Authenticate"]

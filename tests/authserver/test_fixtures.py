"""Fixtures: ``load_missing`` creates what no row matches by natural key and changes nothing else; the
demo fixtures in ``fixtures/`` load with ``loaddata`` and hold no credentials."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.serializers.base import DeserializationError
from oauth2_provider.models import get_application_model

from authserver import fixtures
from authserver.models import ClientPolicy, Role, Scope, User
from notes.models import Note


def write(tmp_path, objects, name="data.json"):
    path = tmp_path / name
    path.write_text(json.dumps(objects))
    return path


def role(name, description="", scopes=()):
    fields = {"name": name, "description": description, "scopes": scopes}
    return {"model": "authserver.role", "fields": fields}


def test_creates_only_what_is_missing_and_keeps_the_rest(db, tmp_path, make_scope):
    make_scope("read")
    make_scope("write")
    kept = Role.objects.create(name="kept", description="changed by an admin")
    kept.scopes.set(Scope.objects.filter(name="write"))
    path = write(tmp_path, [role("kept", "as shipped", [["read"]]), role("new", "as shipped", [["read"]])])

    created = fixtures.load_missing(path)

    assert [obj.name for obj in created] == ["new"]
    kept.refresh_from_db()
    assert kept.description == "changed by an admin"
    assert list(kept.scopes.values_list("name", flat=True)) == ["write"]
    assert list(Role.objects.get(name="new").scopes.values_list("name", flat=True)) == ["read"]
    assert fixtures.load_missing(path) == []


def test_prepare_sets_what_the_fixture_leaves_out_before_the_save(db, tmp_path, client):
    path = write(tmp_path, [{"model": "authserver.user", "fields": {"username": "carol"}}])
    fixtures.load_missing(path, prepare=lambda user: user.set_password("carol-secret"))
    assert client.login(username="carol", password="carol-secret")


def test_a_primary_key_in_the_fixture_never_updates_the_row_holding_it(db, tmp_path):
    taken = Role.objects.create(name="taken", description="mine")
    path = write(tmp_path, [{**role("other", "theirs"), "pk": taken.pk}])
    fixtures.load_missing(path)
    taken.refresh_from_db()
    assert (taken.name, taken.description) == ("taken", "mine")
    assert Role.objects.get(name="other").pk != taken.pk


def test_a_model_without_a_natural_key_is_refused(db, tmp_path):
    path = write(tmp_path, [{"model": "authserver.initialaccesstoken", "fields": {"description": "x"}}])
    with pytest.raises(ImproperlyConfigured, match="natural key"):
        fixtures.load_missing(path)


def test_an_unknown_reference_fails_and_creates_nothing(db, tmp_path):
    path = write(tmp_path, [role("first"), role("second", scopes=[["no-such-scope"]])])
    with pytest.raises(DeserializationError):
        fixtures.load_missing(path)
    assert not Role.objects.filter(name__in=["first", "second"]).exists()


def test_find_looks_in_fixture_dirs(settings, tmp_path):
    (tmp_path / "mine.json").write_text("[]")
    settings.FIXTURE_DIRS = [tmp_path / "elsewhere", tmp_path]
    assert fixtures.find("mine") == tmp_path / "mine.json"
    with pytest.raises(ImproperlyConfigured, match="nothing.json"):
        fixtures.find("nothing")


# --- the shipped fixtures ---


def test_the_demo_fixtures_load_with_loaddata(db, client):
    """Tests (and people) may load them as plain fixtures; without ``seed_demo`` nobody can sign in."""
    call_command("loaddata", "demo", "notes", verbosity=0)
    # With what migrations make: the management API's two scopes and its api-admin role.
    assert sorted(Scope.objects.values_list("name", flat=True)) == [
        "admin:read", "admin:write", "mcp:prompts", "mcp:read", "mcp:tools",
    ]  # fmt: skip
    assert sorted(Role.objects.values_list("name", flat=True)) == ["admin", "api-admin", "guest", "user"]
    assert sorted(User.objects.values_list("username", flat=True)) == ["admin", "alice", "bob", "guest"]
    assert get_application_model().objects.count() == 4 and ClientPolicy.objects.count() == 4
    assert Note.objects.filter(owner__username="alice").count() == 3
    assert not client.login(username="alice", password="alice-password")


def test_the_fixtures_hold_no_password_or_secret():
    for name in ("demo", "notes"):
        for item in json.loads(fixtures.find(name).read_text()):
            fields = item["fields"]
            assert "password" not in fields, item
            assert fields.get("client_secret", "") == "", item
            if item["model"] == "oauth2_provider.application":
                assert fields["client_type"] == "public" or "client_secret" not in fields, item


def test_every_demo_note_has_a_fixed_key():
    """A note is matched by its key: one without would be created again on every seed."""
    notes = json.loads(fixtures.find("notes").read_text())
    keys = [item["fields"]["key"] for item in notes]
    assert len(set(keys)) == len(keys) == len(notes)

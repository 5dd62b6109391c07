"""Signing keys through the API: rotation and withdrawal as the admin's actions do them."""

from __future__ import annotations

import pytest

from authserver.models import SigningKey

pytestmark = pytest.mark.django_db


def test_keys_show_their_public_half_only(api):
    keys = api.get("signing-keys/").json()["results"]
    assert [key["status"] for key in keys] == ["active"]
    assert "private_key" not in keys[0] and "d" not in keys[0]["public_jwk"]
    assert keys[0]["public_jwk"]["kid"] == keys[0]["kid"]


def test_rotation_makes_a_new_current_key_and_old_tokens_keep_working(api):
    old = SigningKey.objects.get()
    response = api.post("signing-keys/rotate/", {})
    assert response.status_code == 201
    assert response.json()["status"] == "active" and response.json()["kid"] != old.kid
    assert api.get(f"signing-keys/{old.pk}/").json()["status"] == "retired"
    assert api.get("users/").status_code == 200  # the caller's token was signed by the old key


def test_rotation_as_compromised_withdraws_older_keys_and_their_tokens(api):
    old = SigningKey.objects.get()
    response = api.post("signing-keys/rotate/", {"compromised": True})
    assert response.status_code == 201
    assert SigningKey.objects.get(pk=old.pk).compromised_at is not None
    assert api.get("users/").status_code == 401


def test_the_current_key_cannot_be_retired_alone(api):
    current = SigningKey.objects.get()
    response = api.post(f"signing-keys/{current.pk}/retire/")
    assert response.status_code == 400
    assert "rotate" in response.json()["detail"]
    assert SigningKey.objects.get(pk=current.pk).compromised_at is None


def test_retiring_a_retired_key_withdraws_it(api, issue):
    old = SigningKey.objects.get()
    assert api.post("signing-keys/rotate/", {}).status_code == 201
    fresh = api.as_(issue("root", ["admin:read", "admin:write"]))  # signed by the new key
    response = fresh.post(f"signing-keys/{old.pk}/retire/")
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
    assert api.get("users/").status_code == 401  # signed by the withdrawn key
    assert fresh.get("users/").status_code == 200


def test_a_bad_rotation_body_is_400(api):
    assert api.post("signing-keys/rotate/", {"compromised": "perhaps"}).status_code == 400
    assert SigningKey.objects.count() == 1

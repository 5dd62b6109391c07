"""The refresh grace window: a rotated refresh token presented again soon, by its client with the same
request, gets the same new pair; anything else is reuse and revokes the family."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import ValidationError
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

import sharedstate
from authserver import rotations
from authserver.models import ClientPolicy

from .conftest import rotated_long_ago
from .test_introspection_revocation import REVOKE_URL, deny_key
from .test_token_endpoint import assert_oauth_error

AccessToken, RefreshToken = get_access_token_model(), get_refresh_token_model()


@pytest.fixture
def refresh(world, post_token):
    def run(refresh_token: str, client=None, auth=None, **data):
        body = {"grant_type": "refresh_token", "refresh_token": refresh_token, **data}
        if auth is None:
            body["client_id"] = (client or world.clients["cli"]).client_id
        return post_token(body, auth)

    return run


@pytest.fixture
def rotated(password_token, refresh):
    """(the first token response, the response its refresh token was rotated into)."""
    first = password_token(scope="mcp:read mcp:tools")
    second = refresh(first["refresh_token"])
    assert second.status_code == 200, second.content
    return first, second.json()


def assert_family_revoked(pair: dict, refresh) -> None:
    assert_oauth_error(refresh(pair["refresh_token"]), 400, "invalid_grant")
    checksum = hashlib.sha256(pair["access_token"].encode()).hexdigest()
    assert not AccessToken.objects.filter(token_checksum=checksum).exists()
    assert sharedstate.get(deny_key(pair["access_token"])) is not None
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def set_window(settings, seconds: int) -> None:
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": seconds}


def test_a_repeat_within_the_window_gets_the_same_pair(rotated, refresh):
    first, second = rotated
    again = refresh(first["refresh_token"])
    assert again.status_code == 200, again.content
    body = again.json()
    assert (body["access_token"], body["refresh_token"], body["scope"]) == (
        second["access_token"], second["refresh_token"], second["scope"],
    )  # fmt: skip
    assert 0 < body["expires_in"] <= second["expires_in"] and body["token_type"] == "Bearer"
    # Nothing was minted for the repeat: one rotation, one live pair, and it keeps working.
    assert RefreshToken.objects.count() == 2 and AccessToken.objects.count() == 1
    third = refresh(second["refresh_token"])
    assert third.status_code == 200, third.content
    assert third.json()["refresh_token"] not in {first["refresh_token"], second["refresh_token"]}


def test_the_new_pair_is_kept_sealed_for_the_window_only(rotated, settings):
    first, second = rotated
    key = rotations.KEY_PREFIX + hashlib.sha256(first["refresh_token"].encode()).hexdigest()
    sealed = sharedstate.get(key)
    assert isinstance(sealed, str)
    for value in (second["access_token"], second["refresh_token"], first["refresh_token"]):
        assert value not in sealed
    assert settings.OAUTH2_PROVIDER["REFRESH_TOKEN_GRACE_PERIOD_SECONDS"] == 5  # the documented default


def test_a_repeat_after_the_window_revokes_the_family(rotated, refresh):
    first, second = rotated
    rotated_long_ago(first["refresh_token"], seconds=6)
    body = assert_oauth_error(refresh(first["refresh_token"]), 400, "invalid_grant")
    assert "refresh_token" not in body
    assert_family_revoked(second, refresh)


def test_another_client_presenting_it_within_the_window_revokes_the_family(world, rotated, refresh):
    first, second = rotated
    backend = world.clients["backend"]
    response = refresh(first["refresh_token"], auth=(backend.client_id, backend.client_secret))
    assert_oauth_error(response, 400, "invalid_grant")
    assert_family_revoked(second, refresh)


@pytest.mark.parametrize(
    "changed", [{"scope": "mcp:read"}, {"resource": "http://127.0.0.1:8000/mcp"}], ids=["scope", "resource"]
)
def test_a_different_request_within_the_window_is_reuse(rotated, refresh, changed):
    first, second = rotated
    assert_oauth_error(refresh(first["refresh_token"], **changed), 400, "invalid_grant")
    assert_family_revoked(second, refresh)


def test_the_same_scope_in_another_order_is_the_same_request(password_token, refresh):
    first = password_token(scope="mcp:read mcp:tools")
    second = refresh(first["refresh_token"], scope="mcp:read mcp:tools").json()
    again = refresh(first["refresh_token"], scope="mcp:tools mcp:read")
    assert again.status_code == 200 and again.json()["refresh_token"] == second["refresh_token"]


def test_a_repeat_after_the_new_refresh_token_was_used_revokes_the_family(rotated, refresh):
    first, second = rotated
    third = refresh(second["refresh_token"]).json()
    assert_oauth_error(refresh(first["refresh_token"]), 400, "invalid_grant")
    assert_family_revoked(third, refresh)


def test_a_repeat_after_the_new_pair_was_revoked_gets_nothing(world, rotated, refresh, client):
    first, second = rotated
    response = client.post(
        REVOKE_URL, {"token": second["refresh_token"], "client_id": world.clients["cli"].client_id}
    )
    assert response.status_code == 200
    assert_oauth_error(refresh(first["refresh_token"]), 400, "invalid_grant")


def test_a_deactivated_user_gets_nothing_within_the_window(world, rotated, refresh):
    first, _ = rotated
    world.users["alice"].is_active = False
    world.users["alice"].save()
    assert_oauth_error(refresh(first["refresh_token"]), 400, "invalid_grant")


def test_window_zero_on_the_server_makes_every_repeat_reuse(settings, rotated, refresh):
    set_window(settings, 0)
    first, second = rotated
    assert_oauth_error(refresh(first["refresh_token"]), 400, "invalid_grant")
    assert_family_revoked(second, refresh)


def test_a_client_may_turn_its_window_off(world, rotated, refresh):
    ClientPolicy.objects.filter(application=world.clients["cli"].application).update(refresh_grace_seconds=0)
    first, second = rotated
    assert_oauth_error(refresh(first["refresh_token"]), 400, "invalid_grant")
    assert_family_revoked(second, refresh)


def test_a_clients_shorter_window_applies(world, rotated, refresh):
    ClientPolicy.objects.filter(application=world.clients["cli"].application).update(refresh_grace_seconds=2)
    first, second = rotated
    rotated_long_ago(first["refresh_token"], seconds=3)  # inside the server's 5 s, outside the client's 2 s
    assert_oauth_error(refresh(first["refresh_token"]), 400, "invalid_grant")
    assert_family_revoked(second, refresh)


def test_a_clients_window_is_at_most_the_servers(world):
    policy = ClientPolicy.objects.get(application=world.clients["cli"].application)
    policy.refresh_grace_seconds = 6
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    assert "refresh_grace_seconds" in refused.value.message_dict
    policy.refresh_grace_seconds = 5
    policy.full_clean()

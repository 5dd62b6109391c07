"""The grant table is the one source: what is offered, to whom, and how; the device grant goes through it."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from django.forms import modelform_factory
from django.utils import timezone
from oauth2_provider.models import AbstractApplication, get_application_model, get_device_grant_model
from oauth2_provider.oauth2_validators import GRANT_TYPE_MAPPING

from authserver import grants, resource_indicators
from authserver.forms import ClientForm
from authserver.server import Server
from authserver.validators import OAuth2Validator

from .conftest import FORM
from .test_metadata import metadata
from .test_token_endpoint import assert_oauth_error

DEVICE = grants.DEVICE_CODE
EXCHANGE = grants.TOKEN_EXCHANGE


def offer(settings, **switches: bool) -> None:
    """Switch grants the way config/settings/oauth.py does, through DOT's one setting."""
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OAUTH2_GRANT_TYPES_SUPPORTED": grants.grant_types_supported(**switches),
    }


def form_grants() -> set[str]:
    """The grants the admin's client form offers (the admin builds it the same way)."""
    form = modelform_factory(get_application_model(), form=ClientForm, fields=["authorization_grant_type"])()
    return {value for value, _ in form.fields["authorization_grant_type"].choices}


def served() -> list[str]:
    return list(Server(OAuth2Validator()).grant_types)


# --- the table itself ---


def test_the_default_offer(world, client):
    expected = [
        "authorization_code", "client_credentials", "refresh_token", "password", DEVICE, EXCHANGE,
        grants.JWT_BEARER,
    ]  # fmt: skip
    assert metadata(client)["grant_types_supported"] == expected
    assert served() == expected
    assert form_grants() == {"authorization-code", "client-credentials", "password", DEVICE}
    assert grants.self_registered_grant_types() == ["authorization_code", "refresh_token"]


def test_application_grants_are_dots_constants():
    dot = {
        AbstractApplication.GRANT_AUTHORIZATION_CODE,
        AbstractApplication.GRANT_CLIENT_CREDENTIALS,
        AbstractApplication.GRANT_PASSWORD,
        AbstractApplication.GRANT_DEVICE_CODE,
    }
    assert set(grants.APPLICATION_GRANTS) == dot
    # DOT's validator asserts every grant_type it is asked about is in its mapping; the grants a client is
    # allowed by its policy (token exchange) or by an identity provider (jwt-bearer) are answered by ours
    # before DOT's, and have no application grant.
    by_policy = {grant.grant_type for grant in grants.GRANTS if grant.by_client_policy}
    assert by_policy == {EXCHANGE}
    elsewhere = by_policy | {grants.JWT_BEARER}
    assert set(grants.BY_TYPE) - elsewhere <= set(GRANT_TYPE_MAPPING)
    assert all(grants.get(name).application_grant is None for name in elsewhere)


def test_every_resource_binding_has_a_reader():
    bindings = {grant.resource_binding for grant in grants.GRANTS} - {None}
    assert bindings <= set(resource_indicators.BINDINGS)


def test_a_switch_naming_no_grant_fails_loudly():
    with pytest.raises(ValueError, match="implicit"):
        grants.grant_types_supported(implicit=True)


def test_a_grant_the_table_does_not_know_is_offered_nowhere(world, client, settings, post_token):
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OAUTH2_GRANT_TYPES_SUPPORTED": [*grants.grant_types_supported(), "implicit"],
    }
    assert "implicit" not in metadata(client)["grant_types_supported"]
    assert "implicit" not in served()
    service = world.clients["service"]
    response = post_token({"grant_type": "implicit"}, (service.client_id, service.client_secret))
    assert_oauth_error(response, 400, "unsupported_grant_type")


# --- one switch, every reader ---


def test_switching_the_password_grant_off_removes_it_everywhere(world, client, settings, post_token):
    offer(settings, password=False)
    assert "password" not in metadata(client)["grant_types_supported"]
    assert "password" not in served()
    assert form_grants() == {"authorization-code", "client-credentials", DEVICE}
    body = {
        "grant_type": "password",
        "client_id": world.clients["cli"].client_id,
        "username": "alice",
        "password": "alice-password",
    }
    assert_oauth_error(post_token(body), 400, "unsupported_grant_type")


def test_the_device_grant_is_offered_everywhere_but_registration(world, client):
    assert DEVICE in metadata(client)["grant_types_supported"]
    assert metadata(client)["device_authorization_endpoint"] == "http://127.0.0.1:8000/oauth/device_authorization/"
    assert DEVICE in served()
    assert DEVICE in form_grants()
    assert DEVICE not in grants.self_registered_grant_types()


def test_switching_the_device_grant_off_removes_it_everywhere(
    world, client, settings, post_token, make_client
):
    offer(settings, device_code=False)
    assert DEVICE not in metadata(client)["grant_types_supported"]
    assert "device_authorization_endpoint" not in metadata(client)
    assert DEVICE not in served() and DEVICE not in form_grants()
    tv = make_client("tv", DEVICE, ["mcp:read"], public=True)
    assert_oauth_error(poll(post_token, tv.client_id, device_code="x"), 400, "unsupported_grant_type")
    started = client.post("/oauth/device_authorization/", f"client_id={tv.client_id}", content_type=FORM)
    assert_oauth_error(started, 400, "unsupported_grant_type")
    assert client.get("/oauth/device/").status_code == 404


def test_switching_token_exchange_off_removes_it_everywhere(world, client, settings, post_token):
    offer(settings, token_exchange=False)
    assert EXCHANGE not in metadata(client)["grant_types_supported"]
    assert EXCHANGE not in served()
    service = world.clients["service"]
    body = {"grant_type": EXCHANGE, "subject_token": "x", "subject_token_type": "x"}
    response = post_token(body, (service.client_id, service.client_secret))
    assert_oauth_error(response, 400, "unsupported_grant_type")


# --- the device grant (RFC 8628 token requests) ---


@pytest.fixture
def device_client(world, make_client):
    return make_client("tv", DEVICE, ["mcp:read", "mcp:tools", "mcp:prompts"], public=True)


@pytest.fixture
def make_device_code(device_client):
    def make(code: str = "device-code-1", status: str = "authorized", user=None, minutes: int = 10):
        return get_device_grant_model().objects.create(
            client_id=device_client.client_id,
            device_code=code,
            user_code="ABCD-EFGH",
            scope="mcp:read mcp:tools mcp:prompts",
            expires=timezone.now() + timedelta(minutes=minutes),
            status=status,
            user=user,
        )

    return make


def poll(post_token, client_id: str, **data):
    return post_token({"grant_type": DEVICE, "client_id": client_id, **data})


def test_a_missing_device_code_is_invalid_request(world, post_token, device_client):
    assert_oauth_error(poll(post_token, device_client.client_id), 400, "invalid_request")


def test_an_unknown_device_code_is_invalid_grant(world, post_token, device_client):
    response = poll(post_token, device_client.client_id, device_code="nobody-issued-this")
    assert_oauth_error(response, 400, "invalid_grant")


def test_another_clients_device_code_is_invalid_grant(world, post_token, make_device_code, make_client):
    make_device_code(user=world.users["alice"])
    other = make_client("other tv", DEVICE, ["mcp:read"], public=True)
    assert_oauth_error(poll(post_token, other.client_id, device_code="device-code-1"), 400, "invalid_grant")


@pytest.mark.parametrize(
    ("status", "minutes", "error"),
    [
        ("authorization-pending", 10, "authorization_pending"),
        ("denied", 10, "access_denied"),
        ("expired", 10, "expired_token"),
        ("authorized", -1, "expired_token"),
    ],
)
def test_device_codes_not_approved_get_rfc8628_errors(
    world, post_token, device_client, make_device_code, status, minutes, error
):
    make_device_code(status=status, user=world.users["alice"], minutes=minutes)
    assert_oauth_error(poll(post_token, device_client.client_id, device_code="device-code-1"), 400, error)


def test_an_approved_device_code_gives_one_user_token(world, post_token, device_client, make_device_code):
    make_device_code(user=world.users["alice"])
    response = poll(post_token, device_client.client_id, device_code="device-code-1")
    assert response.status_code == 200, response.content
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["sub"] == str(world.users["alice"].pk)
    assert claims["username"] == "alice"
    # Narrowed to alice's roles (writer: read and tools), like every user grant.
    assert set(claims["scope"].split()) == {"mcp:read", "mcp:tools"}
    again = poll(post_token, device_client.client_id, device_code="device-code-1")
    assert_oauth_error(again, 400, "expired_token")


def test_a_deactivated_users_device_code_gives_nothing(world, post_token, device_client, make_device_code):
    alice = world.users["alice"]
    make_device_code(user=alice)
    alice.is_active = False
    alice.save()
    assert_oauth_error(poll(post_token, device_client.client_id, device_code="device-code-1"), 400, "invalid_grant")


def test_a_grant_type_the_table_does_not_know_is_flagged_at_start_up(settings):
    from authserver.checks import check_grant_types

    assert check_grant_types(None) == []
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OAUTH2_GRANT_TYPES_SUPPORTED": ["implicit"]}
    assert [warning.id for warning in check_grant_types(None)] == ["authserver.W020"]


def test_a_self_registered_client_gets_only_the_grants_the_table_opens_to_it(world, make_client, post_token):
    # DOT builds a CIMD client with whatever grant its document names; the table has the last word.
    made = make_client("documented", "password", ["mcp:read"], public=True)
    made.application.registration_source = made.application.RegistrationSource.CIMD
    made.application.save()
    body = {"grant_type": "password", "client_id": made.client_id, "username": "alice", "password": "alice-password"}
    body = assert_oauth_error(post_token(body), 400, "unauthorized_client")
    assert "self-registered" in body["error_description"]

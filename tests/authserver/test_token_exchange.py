"""RFC 8693 token exchange at the token endpoint: who may exchange what, for which targets, scopes and
lifetime, the ``act`` claim, and every refusal as an RFC 6749 JSON error."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ValidationError
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from authserver import revoking, tokens
from authserver.exchange import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE
from tests.assertion_signer import Signer, credentials

from .test_token_endpoint import assert_oauth_error

API = "https://api.example.test/v1"
OTHER_API = "https://other.example.test/"
NOT_ALLOWED = "https://elsewhere.example.test/"


@pytest.fixture
def gateway(world, make_client):
    """A confidential resource server allowed to exchange users' tokens for two downstream APIs."""
    return make_client(
        "gateway", "client-credentials", ["mcp:read", "mcp:tools"], token_exchange_audiences=[API, OTHER_API]
    )


@pytest.fixture
def exchange(post_token, gateway):
    """POST a token exchange as ``client`` (default: the gateway, with its secret)."""

    def post(subject_token: str, client=None, auth: bool = True, **data):
        client = client or gateway
        body = {
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": subject_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            **data,
        }
        if not auth:
            return post_token({**body, "client_id": client.client_id})
        return post_token(body, (client.client_id, client.client_secret))

    return post


def alice_token(password_token, scope: str = "mcp:read mcp:tools") -> str:
    return password_token("alice", scope=scope)["access_token"]


def row_of(token: str):
    checksum = hashlib.sha256(token.encode()).hexdigest()
    return get_access_token_model().objects.get(token_checksum=checksum)


# --- what an exchange gives ---


def test_an_exchange_gives_an_access_token_for_the_target_acting_for_the_user(
    world, gateway, exchange, password_token, decode
):
    response = exchange(alice_token(password_token), audience=API)
    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["token_type"] == "Bearer"
    assert "refresh_token" not in body
    assert body["scope"] == "mcp:read mcp:tools"
    claims = decode(body["access_token"], audience=API)
    assert claims["aud"] == API
    assert claims["sub"] == str(world.users["alice"].pk)
    assert claims["username"] == "alice"
    assert claims["client_id"] == gateway.client_id
    assert claims["act"] == {"sub": gateway.client_id}
    # recorded like any token: for the exchanging client and the user, with its audience
    row = row_of(body["access_token"])
    assert (row.application, row.user, row.resource) == (gateway.application, world.users["alice"], [API])


def test_resource_and_audience_together_are_the_audience(world, exchange, password_token, decode):
    response = exchange(alice_token(password_token), audience=API, resource=OTHER_API)
    assert response.status_code == 200, response.content
    assert decode(response.json()["access_token"], audience=OTHER_API)["aud"] == [API, OTHER_API]


def test_audience_may_repeat(world, gateway, post_token, password_token, decode):
    body = [
        ("grant_type", TOKEN_EXCHANGE), ("subject_token", alice_token(password_token)),
        ("subject_token_type", ACCESS_TOKEN_TYPE), ("audience", API), ("audience", OTHER_API), ("audience", API),
    ]  # fmt: skip
    response = post_token(body, (gateway.client_id, gateway.client_secret))
    assert response.status_code == 200, response.content
    assert decode(response.json()["access_token"], audience=API)["aud"] == [API, OTHER_API]
    refused = body[:-1] + [("audience", NOT_ALLOWED), ("audience", API)]
    assert_oauth_error(post_token(refused, (gateway.client_id, gateway.client_secret)), 400, "invalid_target")


def test_a_token_exchanged_again_nests_the_earlier_actor(world, gateway, make_client, exchange, password_token, decode):
    downstream = make_client("downstream", "client-credentials", ["mcp:read"], token_exchange_audiences=[OTHER_API])
    first = exchange(alice_token(password_token), audience=API).json()["access_token"]
    response = exchange(first, client=downstream, audience=OTHER_API)
    assert response.status_code == 200, response.content
    claims = decode(response.json()["access_token"], audience=OTHER_API)
    assert claims["act"] == {"sub": downstream.client_id, "act": {"sub": gateway.client_id}}
    assert claims["sub"] == str(world.users["alice"].pk)
    assert claims["scope"] == "mcp:read"  # the second client's ceiling


def test_introspection_names_the_actors(world, gateway, make_client, exchange, password_token, client):
    """RFC 8693 §4.1: ``act`` is an introspection response parameter too; a token nobody exchanged has
    none."""
    from urllib.parse import urlencode

    from .conftest import FORM, basic

    service = world.clients["service"]
    auth = {"HTTP_AUTHORIZATION": basic(service.client_id, service.client_secret)}

    def introspect(token: str) -> dict:
        form = urlencode({"token": token})
        return client.post("/oauth/introspect/", form, content_type=FORM, **auth).json()

    downstream = make_client(
        "downstream", "client-credentials", ["mcp:read"], token_exchange_audiences=[OTHER_API]
    )
    subject = alice_token(password_token)
    first = exchange(subject, audience=API).json()["access_token"]
    second = exchange(first, client=downstream, audience=OTHER_API).json()["access_token"]
    answers = [introspect(token) for token in (subject, first, second)]
    assert all(answer["active"] is True for answer in answers)
    assert "act" not in answers[0]
    assert answers[1]["act"] == {"sub": gateway.client_id}
    assert answers[2]["act"] == {"sub": downstream.client_id, "act": {"sub": gateway.client_id}}
    assert answers[2]["sub"] == str(world.users["alice"].pk)


def test_a_narrower_scope_may_be_asked_for(world, exchange, password_token, decode):
    response = exchange(alice_token(password_token), audience=API, scope="mcp:read")
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "mcp:read"
    assert decode(response.json()["access_token"], audience=API)["scope"] == "mcp:read"


def test_a_wider_scope_than_the_subject_token_is_refused(world, exchange, password_token):
    response = exchange(alice_token(password_token, scope="mcp:read"), audience=API, scope="mcp:read mcp:tools")
    body = assert_oauth_error(response, 400, "invalid_scope")
    assert "mcp:tools" in body["error_description"]


def test_the_scopes_narrow_to_the_exchanging_clients_ceiling(world, make_client, exchange, password_token):
    narrow = make_client("narrow", "client-credentials", ["mcp:read"], token_exchange_audiences=[API])
    response = exchange(alice_token(password_token), client=narrow, audience=API)
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "mcp:read"
    refused = exchange(alice_token(password_token), client=narrow, audience=API, scope="mcp:tools")
    assert_oauth_error(refused, 400, "invalid_scope")


def test_a_role_removed_since_revoked_the_subject_token(world, exchange, password_token):
    subject = alice_token(password_token)
    world.users["alice"].roles.set([world.roles["reader"]])  # authserver.entitlements revokes her tokens
    assert_oauth_error(exchange(subject, audience=API), 400, "invalid_request")


def test_the_lifetime_is_capped_by_the_subject_tokens_remaining_life(world, gateway, exchange, decode):
    subject = tokens.issue_for_user(world.users["alice"], world.clients["backend"].application, ["mcp:read"], lifetime=90)
    response = exchange(subject, audience=API)
    assert response.status_code == 200, response.content
    body = response.json()
    assert 0 < body["expires_in"] <= 90
    subject_exp = jwt.decode(subject, options={"verify_signature": False})["exp"]
    assert decode(body["access_token"], audience=API)["exp"] <= subject_exp
    assert row_of(body["access_token"]).expires <= row_of(subject).expires


def test_a_long_lived_subject_token_gives_the_servers_lifetime(world, exchange, settings):
    backend = world.clients["backend"].application
    subject = tokens.issue_for_user(world.users["alice"], backend, ["mcp:read"], lifetime=3600)
    assert exchange(subject, audience=API).json()["expires_in"] == settings.ACCESS_TOKEN_LIFETIME


def test_a_private_key_jwt_client_may_exchange(world, make_client, post_token, password_token, decode):
    signer = Signer()
    signing = make_client("signing", "client-credentials", ["mcp:read"], jwks=signer.jwks, token_exchange_audiences=[API])
    body = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": alice_token(password_token),
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": API,
        **credentials(signer.sign(signing.client_id)),
    }
    response = post_token(body)
    assert response.status_code == 200, response.content
    assert decode(response.json()["access_token"], audience=API)["act"] == {"sub": signing.client_id}


def test_revoking_the_subject_token_leaves_the_exchanged_token(world, exchange, password_token):
    subject = alice_token(password_token)
    exchanged = exchange(subject, audience=API).json()["access_token"]
    revoking.revoke_access_token(row_of(subject))
    assert get_access_token_model().objects.filter(token_checksum=row_of(exchanged).token_checksum).exists()


def test_what_revokes_a_users_tokens_reaches_the_exchanged_token(world, gateway, exchange, password_token):
    exchanged = exchange(alice_token(password_token), audience=API).json()["access_token"]
    checksum = row_of(exchanged).token_checksum
    world.users["alice"].roles.set([world.roles["reader"]])  # a role removed: her tokens are revoked
    assert not get_access_token_model().objects.filter(token_checksum=checksum).exists()


def test_the_metadata_offers_the_grant(world, client):
    data = client.get("/.well-known/oauth-authorization-server").json()
    assert TOKEN_EXCHANGE in data["grant_types_supported"]


# --- who may exchange ---


def test_a_public_client_is_refused_even_with_an_allow_list(world, exchange, password_token):
    cli = world.clients["cli"]
    policy = cli.application.policy
    policy.token_exchange_audiences = API
    policy.save()
    response = exchange(alice_token(password_token), client=cli, auth=False, audience=API)
    body = assert_oauth_error(response, 400, "unauthorized_client")
    assert "confidential" in body["error_description"]


def test_a_client_without_an_allow_list_is_refused(world, exchange, password_token):
    response = exchange(alice_token(password_token), client=world.clients["backend"], audience=API)
    body = assert_oauth_error(response, 400, "unauthorized_client")
    assert "token exchange audiences" in body["error_description"]


def test_a_disabled_client_is_refused(world, gateway, exchange, password_token):
    from authserver.clients import set_enabled

    subject = alice_token(password_token)
    set_enabled([gateway.application], False)
    assert_oauth_error(exchange(subject, audience=API), 400, "unauthorized_client")


def test_a_wrong_secret_is_invalid_client(world, gateway, post_token, password_token):
    body = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": alice_token(password_token),
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": API,
    }
    assert_oauth_error(post_token(body, (gateway.client_id, "wrong")), 401, "invalid_client")


def test_the_grant_switched_off_is_unsupported(world, exchange, password_token, settings):
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OAUTH2_GRANT_TYPES_SUPPORTED": ["password", "client_credentials"],
    }
    assert_oauth_error(exchange("x", audience=API), 400, "unsupported_grant_type")


# --- targets ---


def test_an_audience_not_on_the_allow_list_is_invalid_target(world, exchange, password_token):
    body = assert_oauth_error(exchange(alice_token(password_token), audience=NOT_ALLOWED), 400, "invalid_target")
    assert NOT_ALLOWED in body["error_description"]
    mixed = exchange(alice_token(password_token), audience=API, resource=NOT_ALLOWED)
    assert_oauth_error(mixed, 400, "invalid_target")


def test_the_mcp_resource_is_not_a_target_unless_listed(world, exchange, password_token, settings):
    response = exchange(alice_token(password_token), resource=settings.MCP_RESOURCE_URL)
    assert_oauth_error(response, 400, "invalid_target")


def test_a_target_is_required(world, exchange, password_token):
    assert_oauth_error(exchange(alice_token(password_token)), 400, "invalid_request")


# --- subject tokens ---


def test_a_revoked_subject_token_is_refused(world, exchange, password_token):
    subject = alice_token(password_token)
    revoking.revoke_access_token(row_of(subject))
    body = assert_oauth_error(exchange(subject, audience=API), 400, "invalid_request")
    assert "revoked" in body["error_description"]


def test_an_expired_subject_token_is_refused(world, exchange, password_token):
    subject = alice_token(password_token)
    get_access_token_model().objects.filter(pk=row_of(subject).pk).update(expires=timezone.now() - timedelta(seconds=1))
    assert_oauth_error(exchange(subject, audience=API), 400, "invalid_request")


def test_a_subject_token_past_its_exp_is_refused(world, exchange):
    now = int(time.time())
    claims = {"iss": "http://127.0.0.1:8000", "sub": "1", "client_id": "x", "iat": now - 120, "exp": now - 60}
    from django.conf import settings

    claims["iss"] = settings.OAUTH_ISSUER
    body = assert_oauth_error(exchange(tokens.sign(claims), audience=API), 400, "invalid_request")
    assert "expired" in body["error_description"]


def test_a_token_of_a_deactivated_user_is_refused(world, exchange, password_token):
    subject = alice_token(password_token)
    world.users["alice"].__class__.objects.filter(pk=world.users["alice"].pk).update(is_active=False)
    assert_oauth_error(exchange(subject, audience=API), 400, "invalid_request")


def test_a_clients_own_token_is_refused(world, exchange, cc_token):
    body = assert_oauth_error(exchange(cc_token()["access_token"], audience=API), 400, "invalid_request")
    assert "user" in body["error_description"]


def test_a_token_signed_by_another_key_is_refused(world, exchange, password_token):
    genuine = jwt.decode(alice_token(password_token), options={"verify_signature": False})
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = jwt.get_unverified_header(alice_token(password_token))["kid"]
    forged = jwt.encode(genuine, other, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})
    assert_oauth_error(exchange(forged, audience=API), 400, "invalid_request")


@pytest.mark.parametrize("garbage", ["not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "é" * 10])
def test_garbage_subject_tokens_are_refused(world, exchange, garbage):
    assert_oauth_error(exchange(garbage, audience=API), 400, "invalid_request")


@pytest.mark.parametrize(
    "change",
    [
        {"subject_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
        {"subject_token_type": ""},
        {"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
        {"actor_token": "x", "actor_token_type": ACCESS_TOKEN_TYPE},
        {"subject_token": ""},
    ],
)
def test_malformed_requests_are_invalid_request(world, exchange, password_token, change):
    data = {"audience": API, **change}
    subject = data.pop("subject_token", None)
    assert_oauth_error(exchange(alice_token(password_token) if subject is None else subject, **data), 400, "invalid_request")


# --- the allow-list ---


def test_the_allow_list_holds_absolute_uris_only(world, gateway):
    policy = gateway.application.policy
    policy.token_exchange_audiences = f"{API}\nnot-a-uri"
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    assert "token_exchange_audiences" in refused.value.message_dict
    policy.token_exchange_audiences = f"{API}\n{API}#fragment"
    with pytest.raises(ValidationError):
        policy.full_clean()

"""DPoP at the token endpoint (RFC 9449 §5): bound access tokens, bound refresh tokens, nonces, errors."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from authserver.models import ClientPolicy
from tests.dpopclient import DpopKey

from .conftest import TOKEN_URL

HTU = settings.OAUTH_ISSUER + TOKEN_URL


@pytest.fixture(scope="module")
def key():
    return DpopKey("ES256")


def proof_header(key, **claims) -> dict[str, str]:
    return {"HTTP_DPOP": key.proof("POST", HTU, **claims)}


def cc(world, post_token, headers=None, **data):
    service = world.clients["service"]
    auth = (service.client_id, service.client_secret)
    return post_token({"grant_type": "client_credentials", **data}, auth, **(headers or {}))


def password(world, post_token, client="cli", headers=None):
    body = {"grant_type": "password", "client_id": world.clients[client].client_id,
            "username": "alice", "password": "alice-password"}  # fmt: skip
    auth = None if client == "cli" else (world.clients[client].client_id, world.clients[client].client_secret)
    return post_token(body, auth, **(headers or {}))


def refresh(world, post_token, refresh_token, client="cli", headers=None):
    body = {"grant_type": "refresh_token", "refresh_token": refresh_token,
            "client_id": world.clients[client].client_id}  # fmt: skip
    auth = None if client == "cli" else (world.clients[client].client_id, world.clients[client].client_secret)
    return post_token(body, auth, **(headers or {}))


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_proof_makes_a_dpop_token_bound_to_its_key(world, post_token, decode, alg):
    client_key = DpopKey(alg)
    response = cc(world, post_token, proof_header(client_key))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert decode(body["access_token"])["cnf"] == {"jkt": client_key.thumbprint}


def test_without_a_proof_the_token_is_bearer_and_unbound(world, post_token, decode):
    body = cc(world, post_token).json()
    assert body["token_type"] == "Bearer"
    assert "cnf" not in decode(body["access_token"])


@pytest.mark.parametrize(
    "make",
    [
        lambda key: {"HTTP_DPOP": key.proof("POST", "http://127.0.0.1:8000/mcp")},  # wrong htu
        lambda key: {"HTTP_DPOP": key.proof("GET", HTU)},  # wrong htm
        lambda key: {"HTTP_DPOP": key.proof("POST", HTU, iat=int(time.time()) - 3600)},  # stale
        lambda key: {"HTTP_DPOP": key.proof("POST", HTU, header={"typ": "JWT"})},  # typ
        lambda key: {"HTTP_DPOP": "not-a-jwt"},
    ],
    ids=["htu", "htm", "stale", "typ", "garbage"],
)
def test_a_bad_proof_is_invalid_dpop_proof(world, post_token, key, make):
    response = cc(world, post_token, make(key))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"
    assert response.json()["error_description"]


def test_a_replayed_proof_is_refused(world, post_token, key):
    headers = proof_header(key)
    assert cc(world, post_token, headers).status_code == 200
    response = cc(world, post_token, headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


def test_a_dpop_bound_client_must_send_a_proof(world, post_token, key):
    ClientPolicy.objects.filter(application=world.clients["service"].application).update(dpop_bound_access_tokens=True)
    response = cc(world, post_token)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"
    assert cc(world, post_token, proof_header(key)).json()["token_type"] == "DPoP"


def test_a_public_clients_refresh_token_is_bound_to_the_key(world, post_token, key, decode):
    first = password(world, post_token, headers=proof_header(key)).json()
    assert first["token_type"] == "DPoP"
    refused = refresh(world, post_token, first["refresh_token"])
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    refused = refresh(world, post_token, first["refresh_token"], headers=proof_header(DpopKey()))
    assert refused.json()["error"] == "invalid_grant"
    second = refresh(world, post_token, first["refresh_token"], headers=proof_header(key))
    assert second.status_code == 200, second.content
    assert second.json()["token_type"] == "DPoP"
    assert decode(second.json()["access_token"])["cnf"] == {"jkt": key.thumbprint}
    # the rotated refresh token is bound as well
    assert refresh(world, post_token, second.json()["refresh_token"]).json()["error"] == "invalid_grant"
    again = refresh(world, post_token, second.json()["refresh_token"], headers=proof_header(key))
    assert again.status_code == 200


def test_a_confidential_clients_refresh_token_is_not_bound(world, post_token, key):
    first = password(world, post_token, client="backend", headers=proof_header(key)).json()
    assert first["token_type"] == "DPoP"
    again = refresh(world, post_token, first["refresh_token"], client="backend")
    assert again.status_code == 200, again.content
    assert again.json()["token_type"] == "Bearer"


def test_nonce_required_answers_use_dpop_nonce_then_accepts_it(world, post_token, key, settings):
    settings.AUTHSERVER = {**getattr(settings, "AUTHSERVER", {}), "DPOP_NONCE_REQUIRED": True}
    response = cc(world, post_token, proof_header(key))
    assert response.status_code == 400
    assert response.json()["error"] == "use_dpop_nonce"
    nonce = response["DPoP-Nonce"]
    assert cc(world, post_token, proof_header(key, nonce=nonce)).json()["token_type"] == "DPoP"


def test_server_metadata_advertises_the_proof_algorithms(db, client):
    data = client.get("/.well-known/oauth-authorization-server").json()
    assert data["dpop_signing_alg_values_supported"] == ["ES256", "RS256", "PS256"]


def test_introspection_names_the_key_a_token_is_bound_to(world, post_token, key, client):
    # RFC 9449 §6.2: the resource server learns the binding from introspection (cnf.jkt).
    from urllib.parse import urlencode

    from .conftest import FORM, basic

    service = world.clients["service"]
    auth = {"HTTP_AUTHORIZATION": basic(service.client_id, service.client_secret)}
    bound = cc(world, post_token, proof_header(key)).json()["access_token"]
    plain = cc(world, post_token).json()["access_token"]
    answers = [
        client.post("/oauth/introspect/", urlencode({"token": token}), content_type=FORM, **auth).json()
        for token in (bound, plain)
    ]
    assert answers[0]["active"] is True
    assert answers[0]["token_type"] == "DPoP" and answers[0]["cnf"] == {"jkt": key.thumbprint}
    assert answers[1]["token_type"] == "Bearer" and "cnf" not in answers[1]

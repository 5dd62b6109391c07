"""Signed client assertions (private_key_jwt, RFC 7523 §2.2 and §3) at the token, introspection and
revocation endpoints, with keys generated here."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings

from authserver import assertions, clientkeys
from authserver.clients import ClientError, create_client, update_client
from authserver.models import ClientPolicy
from tests.assertion_signer import ASSERTION_TYPE, PRIVATE_KEYS, Signer, token_request

from .cimd_server import HOST, Document, DocumentServer
from .conftest import FORM, TOKEN_URL, basic

INTROSPECT_URL = "/oauth/introspect/"
REVOKE_URL = "/oauth/revoke/"


@pytest.fixture
def signer():
    return Signer()


@pytest.fixture
def machine(world, signer):
    """A client_credentials client registered with the signer's JWK Set."""
    return create_client(
        "machine", "client-credentials", ["mcp:read", "mcp:tools"], jwks=signer.jwks, may_introspect=True
    )


@pytest.fixture
def post(client):
    def run(url: str, data: dict, **extra):
        return client.post(url, urlencode(data), content_type=FORM, **extra)

    return run


def refused(response, fragment: str = "") -> dict:
    assert response.status_code == 401, (response.status_code, response.content)
    body = response.json()
    assert body["error"] == "invalid_client", body
    assert fragment in body["error_description"], body
    assert "no-store" in response["Cache-Control"]
    return body


@pytest.mark.parametrize("algorithm", sorted(PRIVATE_KEYS))
def test_a_client_credentials_token_for_a_signed_assertion(world, post, decode, algorithm):
    signer = Signer(algorithm)
    made = create_client("machine", "client-credentials", ["mcp:read"], jwks=signer.jwks)
    assert made.client_secret is None  # nothing to show: the client has no secret
    response = post(TOKEN_URL, token_request(signer.sign(made.client_id)))
    assert response.status_code == 200, response.content
    claims = decode(response.json()["access_token"])
    assert claims["client_id"] == made.client_id and claims["scope"] == "mcp:read"


def test_the_token_endpoint_url_is_an_audience_too(machine, signer, post):
    aud = settings.OAUTH_ISSUER + TOKEN_URL
    assert post(TOKEN_URL, token_request(signer.sign(machine.client_id, aud=aud))).status_code == 200


def test_a_matching_client_id_in_the_body_is_accepted(machine, signer, post):
    data = token_request(signer.sign(machine.client_id), client_id=machine.client_id)
    assert post(TOKEN_URL, data).status_code == 200


def test_a_replayed_assertion_is_refused(machine, signer, post):
    assertion = signer.sign(machine.client_id)
    assert post(TOKEN_URL, token_request(assertion)).status_code == 200
    refused(post(TOKEN_URL, token_request(assertion)), "already used")


@pytest.mark.parametrize(
    "claims, fragment",
    [
        ({"aud": "https://elsewhere.example"}, "aud"),
        ({"aud": settings.OAUTH_ISSUER + "/oauth/introspect/"}, "aud"),  # another endpoint
        ({"lifetime": -120}, "expired"),
        ({"lifetime": 3600}, "at most"),
        ({"iat": int(time.time()) + 600, "lifetime": 700}, "not valid yet"),
        ({"nbf": int(time.time()) + 600}, "not valid yet"),
        ({"drop": ["exp"]}, "exp"),
        ({"drop": ["jti"]}, "jti"),
        ({"drop": ["aud"]}, "aud"),
        ({"sub": "someone-else"}, "sub"),
        ({"jti": ""}, "jti"),
    ],
)
def test_bad_claims_are_refused(machine, signer, post, claims, fragment):
    refused(post(TOKEN_URL, token_request(signer.sign(machine.client_id, **claims))), fragment)


def test_an_assertion_signed_with_another_key_is_refused(machine, signer, post):
    other = Signer(kid=signer.kid)
    refused(post(TOKEN_URL, token_request(other.sign(machine.client_id))), "signature")


def test_an_unknown_kid_is_refused(machine, signer, post):
    refused(post(TOKEN_URL, token_request(signer.sign(machine.client_id, headers={"kid": "nope"}))), "kid")


def test_alg_none_and_hmac_are_refused(machine, signer, post):
    now = int(time.time())
    claims = {"iss": machine.client_id, "sub": machine.client_id, "aud": settings.OAUTH_ISSUER,
              "exp": now + 60, "jti": uuid.uuid4().hex}  # fmt: skip
    unsigned = jwt.encode(claims, None, algorithm="none")
    refused(post(TOKEN_URL, token_request(unsigned)), "alg")
    hmac = jwt.encode(
        claims, b"a shared secret of thirty-two bytes", algorithm="HS256", headers={"kid": signer.kid}
    )
    refused(post(TOKEN_URL, token_request(hmac)), "alg")


@pytest.mark.parametrize("assertion", ["", "not-a-jwt", "a.b.c", "x" * 9000])
def test_garbage_is_refused(machine, post, assertion):
    refused(post(TOKEN_URL, token_request(assertion)))


def test_the_assertion_type_must_be_jwt_bearer(machine, signer, post):
    data = token_request(signer.sign(machine.client_id), client_assertion_type="urn:other")
    refused(post(TOKEN_URL, data), "client_assertion_type")


def test_an_assertion_for_an_unknown_client_is_refused(world, signer, post):
    refused(post(TOKEN_URL, token_request(signer.sign("no-such-client"))))


def test_a_body_client_id_naming_another_client_is_refused(machine, signer, world, post):
    data = token_request(signer.sign(machine.client_id), client_id=world.clients["service"].client_id)
    refused(post(TOKEN_URL, data), "client_id")


def test_a_secret_client_cannot_send_an_assertion(world, signer, post):
    service = world.clients["service"]
    ClientPolicy.objects.filter(application=service.application).update(jwks=signer.jwks)
    refused(post(TOKEN_URL, token_request(signer.sign(service.client_id))), "does not authenticate")


def test_a_signing_client_cannot_use_a_secret(world, post):
    service = world.clients["service"]
    policy = service.application.policy
    policy.token_endpoint_auth_method = ClientPolicy.PRIVATE_KEY_JWT
    policy.jwks = Signer().jwks
    policy.save()
    auth = basic(service.client_id, service.client_secret)
    refused(post(TOKEN_URL, {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=auth), "private_key_jwt")


def test_an_assertion_and_a_secret_together_are_refused(machine, signer, world, post):
    service = world.clients["service"]
    auth = basic(service.client_id, service.client_secret)
    refused(
        post(TOKEN_URL, token_request(signer.sign(machine.client_id)), HTTP_AUTHORIZATION=auth), "one kind"
    )


def test_introspection_and_revocation_with_an_assertion(machine, signer, post):
    issued = post(TOKEN_URL, token_request(signer.sign(machine.client_id))).json()["access_token"]
    endpoint = settings.OAUTH_ISSUER + INTROSPECT_URL
    data = token_request(signer.sign(machine.client_id, aud=endpoint), token=issued)
    data.pop("grant_type")
    answer = post(INTROSPECT_URL, data)
    assert answer.status_code == 200, answer.content
    assert answer.json()["active"] is True
    refused(post(INTROSPECT_URL, data), "already used")
    data = token_request(signer.sign(machine.client_id), token=issued)
    data.pop("grant_type")
    assert post(REVOKE_URL, data).status_code == 200
    data["client_assertion"] = signer.sign(machine.client_id)
    assert post(INTROSPECT_URL, data).json() == {"active": False}


def test_revocation_refuses_a_bad_assertion(machine, signer, post):
    data = {"token": "whatever", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signer.sign(machine.client_id, lifetime=-120)}  # fmt: skip
    refused(post(REVOKE_URL, data), "expired")


# --- what a client may register ---


@pytest.mark.parametrize(
    "jwks, fragment",
    [
        ({}, "keys"),
        ({"keys": []}, "keys"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, "symmetric"),
        ({"keys": [{"kty": "RSA", "n": "AQAB"}]}, "usable"),
        ({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}], "x": 1}, "usable"),
    ],
)
def test_a_jwks_must_hold_usable_public_keys(jwks, fragment):
    assert fragment in clientkeys.jwks_problem(jwks)


def test_private_key_material_is_refused():
    key = ec.generate_private_key(ec.SECP256R1())
    private = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key))
    assert "private key material" in clientkeys.jwks_problem({"keys": [private]})
    assert clientkeys.jwks_problem(Signer().jwks) is None


def test_create_client_refuses_bad_key_settings(world):
    signer = Signer()
    with pytest.raises(ClientError, match="exactly one"):
        create_client("x", "client-credentials", [], jwks=signer.jwks, jwks_uri="https://keys.example/jwks")
    with pytest.raises(ClientError, match="https"):
        create_client("x", "client-credentials", [], jwks_uri="http://keys.example/jwks")
    with pytest.raises(ClientError, match="no secret"):
        create_client("x", "client-credentials", [], jwks=signer.jwks, client_secret="s3cret")


def test_rotating_a_clients_keys(machine, post):
    new = Signer()
    update_client(machine.application, jwks=new.jwks)
    assert post(TOKEN_URL, token_request(new.sign(machine.client_id))).status_code == 200
    with pytest.raises(ClientError, match="Only a private_key_jwt"):
        update_client(
            ClientPolicy.objects.exclude(pk=machine.application.policy.pk).first().application, jwks=new.jwks
        )


# --- keys from a jwks_uri ---


@pytest.fixture(scope="module")
def key_server(tmp_path_factory):
    server = DocumentServer(tmp_path_factory.mktemp("jwks"))
    yield server
    server.close()


@pytest.fixture
def remote(key_server, settings, monkeypatch, world):
    """A client whose keys live at a jwks_uri on the loopback test host (allowed explicitly)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(key_server.ca_file))
    settings.AUTHSERVER = {**settings.AUTHSERVER, "CIMD_PRIVATE_HOSTS": [HOST]}
    key_server.documents.clear()
    key_server.requests.clear()
    signer = Signer()
    key_server.documents["/jwks.json"] = Document(json.dumps(signer.jwks).encode())
    made = create_client("remote", "client-credentials", ["mcp:read"], jwks_uri=key_server.url("/jwks.json"))
    return made, signer


def test_keys_from_a_jwks_uri_are_fetched_once_and_shared(remote, key_server, post):
    made, signer = remote
    for _ in range(2):
        assert post(TOKEN_URL, token_request(signer.sign(made.client_id))).status_code == 200
    assert key_server.requests == ["/jwks.json"]


def test_an_unknown_kid_refetches_the_jwks_uri_at_most_once_a_while(remote, key_server, post):
    made, signer = remote
    assert post(TOKEN_URL, token_request(signer.sign(made.client_id))).status_code == 200
    rotated = Signer()
    key_server.documents["/jwks.json"] = Document(json.dumps(rotated.jwks).encode())
    key_server.requests.clear()
    # Within CLIENT_JWKS_REFRESH_SECONDS of the first fetch: the new kid is not looked for yet.
    refused(post(TOKEN_URL, token_request(rotated.sign(made.client_id))), "kid")
    assert key_server.requests == []


def test_an_unknown_kid_refetches_after_the_refresh_interval(remote, key_server, post, settings):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "CLIENT_JWKS_REFRESH_SECONDS": 1}
    made, signer = remote
    assert post(TOKEN_URL, token_request(signer.sign(made.client_id))).status_code == 200
    rotated = Signer()
    key_server.documents["/jwks.json"] = Document(json.dumps(rotated.jwks).encode())
    time.sleep(2.1)  # the database cache keeps expiry times to the second
    response = post(TOKEN_URL, token_request(rotated.sign(made.client_id)))
    assert response.status_code == 200, response.content
    assert key_server.requests == ["/jwks.json", "/jwks.json"]


def test_a_jwks_uri_on_a_private_address_is_refused_by_default(remote, post, settings):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "CIMD_PRIVATE_HOSTS": []}
    made, signer = remote
    refused(post(TOKEN_URL, token_request(signer.sign(made.client_id))), "jwks_uri")


def test_a_jwks_uri_serving_private_keys_is_refused(remote, key_server, post):
    made, signer = remote
    private = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(signer.key))
    key_server.documents["/jwks.json"] = Document(
        json.dumps({"keys": [{**private, "kid": signer.kid}]}).encode()
    )
    refused(post(TOKEN_URL, token_request(signer.sign(made.client_id))), "private key material")


def test_the_verifier_names_its_algorithms():
    assert "none" not in assertions.ALGORITHMS and not any(a.startswith("HS") for a in assertions.ALGORITHMS)


def test_a_public_client_marked_as_signing_needs_its_assertion(world, post):
    """A policy an administrator set on a public client: its client_id alone no longer gets tokens."""
    cli = world.clients["cli"]
    signer = Signer()
    ClientPolicy.objects.filter(application=cli.application).update(
        token_endpoint_auth_method=ClientPolicy.PRIVATE_KEY_JWT, jwks=signer.jwks
    )
    grant = {"grant_type": "password", "username": "alice", "password": "alice-password"}
    refused(post(TOKEN_URL, {**grant, "client_id": cli.client_id}))
    data = {**grant, "client_assertion_type": ASSERTION_TYPE, "client_assertion": signer.sign(cli.client_id)}
    assert post(TOKEN_URL, data).status_code == 200


def test_a_public_client_cannot_send_an_assertion(world, signer, post):
    cli = world.clients["cli"]
    grant = {"grant_type": "password", "username": "alice", "password": "alice-password"}
    data = {**grant, "client_assertion_type": ASSERTION_TYPE, "client_assertion": signer.sign(cli.client_id)}
    refused(post(TOKEN_URL, data), "does not authenticate")


def test_the_token_flood_limit_counts_each_signing_client_apart(world, post, settings):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "TOKEN_RATE_LIMIT": 2, "TOKEN_RATE_WINDOW": 60}
    first, second = Signer(), Signer()
    one = create_client("one", "client-credentials", ["mcp:read"], jwks=first.jwks)
    two = create_client("two", "client-credentials", ["mcp:read"], jwks=second.jwks)
    for _ in range(2):
        assert post(TOKEN_URL, token_request(first.sign(one.client_id))).status_code == 200
    assert post(TOKEN_URL, token_request(first.sign(one.client_id))).status_code == 429
    assert post(TOKEN_URL, token_request(second.sign(two.client_id))).status_code == 200

"""/mcp with DPoP-bound tokens (RFC 9449 §7): the proof is checked on every request, cached token or not."""

from __future__ import annotations

import time

import pytest

from mcpserver import auth, dpop
from tests.dpopclient import DpopKey

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:8000/mcp"


@pytest.fixture(scope="module")
def key():
    return DpopKey("ES256")


@pytest.fixture
def bound(sign, key):
    return sign({"cnf": {"jkt": key.thumbprint}})


def call(mcp, token, proof=None, scheme="DPoP", method="tools/list"):
    headers = {"Authorization": f"{scheme} {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return mcp.modern(method, headers=headers, token="")


def challenge(response) -> tuple[str, dict[str, str]]:
    scheme, _, rest = response["WWW-Authenticate"].partition(" ")
    params = {}
    for part in rest.split('", '):
        name, _, quoted = part.partition("=")
        params[name.strip()] = quoted.strip('"')
    return scheme, params


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_bound_token_with_a_fresh_proof_on_every_request(mcp, sign, alg):
    client = DpopKey(alg)
    token = sign({"cnf": {"jkt": client.thumbprint}})
    for _ in range(3):  # the second and third find the verification cached: the proof is still checked
        assert call(mcp, token, client.proof("POST", URL, token)).status_code == 200


def test_a_replayed_proof_is_refused_although_the_token_is_cached(mcp, bound, key):
    proof = key.proof("POST", URL, bound)
    assert call(mcp, bound, proof).status_code == 200
    response = call(mcp, bound, proof)
    assert response.status_code == 401
    scheme, params = challenge(response)
    assert scheme == "DPoP"
    assert params["error"] == "invalid_dpop_proof"
    assert params["algs"] == "ES256 RS256 PS256"
    assert response.json()["error"] == "invalid_dpop_proof"


@pytest.mark.parametrize(
    "make",
    [
        lambda key, token: None,  # no proof
        lambda key, token: key.proof("POST", "http://127.0.0.1:8000/other", token),  # wrong htu
        lambda key, token: key.proof("GET", URL, token),  # wrong htm
        lambda key, token: DpopKey("ES256").proof("POST", URL, token),  # another key
        lambda key, token: key.proof("POST", URL, token, iat=int(time.time()) - 3600),  # stale iat
        lambda key, token: key.proof("POST", URL),  # no ath
        lambda key, token: key.proof("POST", URL, token + "x"),  # ath of another token
    ],
    ids=["missing", "htu", "htm", "wrong-key", "stale-iat", "no-ath", "wrong-ath"],
)
def test_bad_proofs_are_401_invalid_dpop_proof(mcp, bound, key, make):
    response = call(mcp, bound, make(key, bound))
    assert response.status_code == 401
    scheme, params = challenge(response)
    assert (scheme, params["error"]) == ("DPoP", "invalid_dpop_proof")


def test_a_bound_token_sent_as_bearer_is_refused(mcp, bound, key):
    response = call(mcp, bound, key.proof("POST", URL, bound), scheme="Bearer")
    assert response.status_code == 401
    scheme, params = challenge(response)
    assert (scheme, params["error"]) == ("DPoP", "invalid_token")


def test_a_bound_token_sent_as_bearer_is_refused_once_cached_too(mcp, bound, key):
    assert call(mcp, bound, key.proof("POST", URL, bound)).status_code == 200
    assert call(mcp, bound, scheme="Bearer").status_code == 401


def test_an_unbound_token_under_the_dpop_scheme_is_refused(mcp, sign, key):
    token = sign()
    response = call(mcp, token, key.proof("POST", URL, token))
    assert response.status_code == 401
    assert challenge(response)[0] == "DPoP"
    assert call(mcp, token, scheme="Bearer").status_code == 200


def test_dpop_required_refuses_bearer_tokens(mcp, sign, bound, key, settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "DPOP_REQUIRED": True}
    assert challenge(mcp.modern("tools/list", token=""))[0] == "DPoP"  # no token at all
    response = call(mcp, sign(), scheme="Bearer")
    assert response.status_code == 401
    assert challenge(response)[0] == "DPoP"
    assert call(mcp, bound, key.proof("POST", URL, bound)).status_code == 200


def test_a_malformed_cnf_is_refused(mcp, sign, key):
    token = sign({"cnf": {"jkt": 7}})
    assert call(mcp, token, key.proof("POST", URL, token)).status_code == 401


def test_nonce_required_answers_use_dpop_nonce_then_accepts_it(mcp, bound, key, settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "DPOP_NONCE_REQUIRED": True}
    response = call(mcp, bound, key.proof("POST", URL, bound))
    assert response.status_code == 401
    scheme, params = challenge(response)
    assert (scheme, params["error"]) == ("DPoP", "use_dpop_nonce")
    nonce = response["DPoP-Nonce"]
    assert call(mcp, bound, key.proof("POST", URL, bound, nonce=nonce)).status_code == 200


def test_dpop_headers_are_allowed_and_exposed_to_browsers(mcp, bound, key):
    response = mcp.modern(
        "tools/list",
        headers={"Authorization": f"DPoP {bound}", "DPoP": key.proof("POST", URL, bound), "Origin": URL[:21]},
        token="",
    )
    assert response.status_code == 200
    assert "DPoP-Nonce" in response["Access-Control-Expose-Headers"]


def test_protected_resource_metadata_advertises_dpop(client, settings):
    data = client.get("/.well-known/oauth-protected-resource/mcp").json()
    assert data["dpop_signing_alg_values_supported"] == ["ES256", "RS256", "PS256"]
    assert data["dpop_bound_access_tokens_required"] is False


def test_authenticate_takes_the_request_uri_for_other_resources(sign, key):
    token = sign({"cnf": {"jkt": key.thumbprint}})
    uri = "http://127.0.0.1:8000/api/notes/"
    proof = key.proof("GET", uri + "?page=2", token)
    verified = auth.authenticate(f"DPoP {token}", proof=proof, method="GET", uri=uri)
    assert verified.jkt == key.thumbprint == dpop.thumbprint(key.jwk)


def test_a_bound_token_short_of_a_scope_gets_a_dpop_insufficient_scope_challenge(mcp, sign, key):
    token = sign({"cnf": {"jkt": key.thumbprint}, "scope": "mcp:read"})
    params = {"name": "echo", "arguments": {"message": "hi"}}
    headers = {"Authorization": f"DPoP {token}", "DPoP": key.proof("POST", URL, token)}
    response = mcp.modern("tools/call", params, headers=headers, token="")
    assert response.status_code == 403
    scheme, params = challenge(response)
    assert (scheme, params["error"], params["scope"]) == ("DPoP", "insufficient_scope", "mcp:tools")

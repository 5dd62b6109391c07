"""DPoP (RFC 9449) over real HTTP, with a client written from the RFC (``tests.dpopclient``): bound
tokens from client credentials and refresh, /mcp calls with a proof each, and every refusal."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.dpopclient import DpopKey

from . import flows

pytestmark = pytest.mark.usefixtures("no_server_errors")


def echo(message: str) -> dict:
    params = {"name": "echo", "arguments": {"message": message}}
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}


@pytest.fixture(scope="module")
def key():
    return DpopKey("ES256")


@pytest.fixture
def token_url(live_server):
    return live_server.url + flows.TOKEN


def call(live_server, token, proof, scheme="DPoP", message="hi") -> httpx.Response:
    headers = {"Authorization": f"{scheme} {token}", "Accept": "application/json, text/event-stream"}
    if proof is not None:
        headers["DPoP"] = proof
    return httpx.post(live_server.mcp_url, json=echo(message), headers=headers, timeout=30)


def challenge(response: httpx.Response) -> str:
    return response.headers["www-authenticate"]


@pytest.fixture
def bound_token(http, key, token_url):
    response = http.post(
        flows.TOKEN,
        data={"grant_type": "client_credentials", "scope": "mcp:read mcp:tools"},
        headers={**flows.basic(*flows.SERVICE), "DPoP": key.proof("POST", token_url)},
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    return response.json()["access_token"]


def test_a_bound_token_calls_tools_with_a_fresh_proof_each_time(live_server, bound_token, key):
    for message in ("one", "two", "three"):
        proof = key.proof("POST", live_server.mcp_url, bound_token)
        response = call(live_server, bound_token, proof, message=message)
        assert response.status_code == 200, response.text
        assert response.json()["result"]["content"][0]["text"] == message


def test_a_replayed_proof_is_refused(live_server, bound_token, key):
    proof = key.proof("POST", live_server.mcp_url, bound_token)
    assert call(live_server, bound_token, proof).status_code == 200
    replayed = call(live_server, bound_token, proof)
    assert replayed.status_code == 401
    assert challenge(replayed).startswith('DPoP error="invalid_dpop_proof"')


@pytest.mark.parametrize(
    "make",
    [
        lambda server, key, token: key.proof("POST", server.url + "/other", token),
        lambda server, key, token: DpopKey("ES256").proof("POST", server.mcp_url, token),
        lambda server, key, token: key.proof("POST", server.mcp_url, token, iat=int(time.time()) - 3600),
        lambda server, key, token: key.proof("POST", server.mcp_url),
    ],
    ids=["wrong-htu", "wrong-key", "stale-iat", "missing-ath"],
)
def test_bad_proofs_are_refused(live_server, bound_token, key, make):
    response = call(live_server, bound_token, make(live_server, key, bound_token))
    assert response.status_code == 401
    assert challenge(response).startswith('DPoP error="invalid_dpop_proof"')
    assert 'algs="ES256 RS256 PS256"' in challenge(response)


def test_a_bound_token_sent_as_bearer_is_refused(live_server, bound_token, key):
    proof = key.proof("POST", live_server.mcp_url, bound_token)
    assert call(live_server, bound_token, proof).status_code == 200  # the server now holds it verified
    response = call(live_server, bound_token, None, scheme="Bearer")
    assert response.status_code == 401
    assert challenge(response).startswith('DPoP error="invalid_token"')


def test_refresh_keeps_the_binding_and_refuses_another_key(live_server, http, key, token_url):
    issued = http.post(
        flows.TOKEN,
        data={"grant_type": "password", "client_id": flows.CLI_CLIENT, "username": "alice",
              "password": "alice-password", "scope": "mcp:read mcp:tools"},  # fmt: skip
        headers={"DPoP": key.proof("POST", token_url)},
    )
    assert issued.status_code == 200, issued.text
    refresh_token = issued.json()["refresh_token"]
    stolen = http.post(
        flows.TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": flows.CLI_CLIENT},
        headers={"DPoP": DpopKey().proof("POST", token_url)},
    )
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_grant"
    refreshed = http.post(
        flows.TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": flows.CLI_CLIENT},
        headers={"DPoP": key.proof("POST", token_url)},
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["token_type"] == "DPoP"
    token = refreshed.json()["access_token"]
    assert call(live_server, token, key.proof("POST", live_server.mcp_url, token)).status_code == 200


def test_both_metadata_documents_advertise_dpop(http):
    server = http.get("/.well-known/oauth-authorization-server").json()
    assert "ES256" in server["dpop_signing_alg_values_supported"]
    resource = http.get("/.well-known/oauth-protected-resource/mcp").json()
    assert "ES256" in resource["dpop_signing_alg_values_supported"]
    assert resource["dpop_bound_access_tokens_required"] is False


def test_the_docs_example_pings_with_a_dpop_token(live_server, http, key, token_url):
    """docs/tokens.md's snippet: client credentials with a proof, then ``ping`` with another."""
    answer = http.post(
        flows.TOKEN,
        data={"grant_type": "client_credentials"},
        auth=flows.SERVICE,
        headers={"DPoP": key.proof("POST", token_url)},
    ).json()
    token = answer["access_token"]
    reply = httpx.post(
        live_server.mcp_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers={"Authorization": f"DPoP {token}", "DPoP": key.proof("POST", live_server.mcp_url, token),
                 "Accept": "application/json, text/event-stream"},  # fmt: skip
    )
    assert (answer["token_type"], reply.status_code, reply.json()["result"]) == ("DPoP", 200, {})


def test_a_code_bound_by_dpop_jkt_needs_a_proof_of_that_key(live_server, http, token_url):
    """RFC 9449 §10 through the login and consent pages: the authorization request names the key's
    thumbprint; the code is refused with any other proof (or none) and redeemed with that key's."""
    key = DpopKey("ES256")
    grant = flows.authorize(http, "alice", scope="mcp:read mcp:tools", dpop_jkt=key.thumbprint)
    for proof in ({}, {"DPoP": DpopKey("ES256").proof("POST", token_url)}):
        refused = flows.exchange(http, grant.code, grant.verifier, headers=proof)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "invalid_grant"
    response = flows.exchange(http, grant.code, grant.verifier, headers={"DPoP": key.proof("POST", token_url)})
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    token = response.json()["access_token"]
    assert call(live_server, token, key.proof("POST", live_server.mcp_url, token)).status_code == 200


def test_a_malformed_dpop_jkt_is_sent_back_to_the_client(live_server, http):
    """RFC 6749 §4.1.2.1: the error goes to the redirect URI, with the state and RFC 9207 ``iss``."""
    _, challenge = flows.pkce_pair()
    url = flows.authorize_url(challenge, "mcp:read", "st-1", dpop_jkt="not-a-thumbprint")
    assert flows.login(http, "alice", "alice-password", url).status_code == 302
    response = http.get(url)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(flows.WEB_REDIRECT + "?")
    params = dict(parse_qsl(urlsplit(location).query))
    assert (params["error"], params["state"], params["iss"]) == ("invalid_request", "st-1", live_server.url)

"""Signed client assertions (private_key_jwt, RFC 7523 §2.2) against the live server: a machine client
with no secret gets a token that works on /mcp, introspects and revokes; replays, wrong audiences,
expired assertions, other keys and ``alg: none`` are refused; keys served at a ``jwks_uri`` work."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import jwt
import pytest

from tests.assertion_signer import Signer, credentials, token_request

from .liveserver import LiveServer

pytestmark = pytest.mark.usefixtures("no_server_errors")


def register(server: LiveServer, tmp_path, signer: Signer | None = None, jwks_uri: str = "") -> str:
    """A client_credentials client (allowed to introspect) registered with a JWK Set file or a URL."""
    args = ["create_client", "--name", "ci", "--grant", "client-credentials", "--scopes", "mcp:read,mcp:tools"]
    if signer is not None:
        path = tmp_path / f"jwks-{uuid.uuid4().hex}.json"
        path.write_text(json.dumps(signer.jwks))
        args += ["--jwks", str(path)]
    else:
        args += ["--jwks-uri", jwks_uri]
    made = json.loads(server.manage(*args, "--introspect", "--json").stdout)
    assert made["client_secret"] is None
    return made["client_id"]


def whoami(http: httpx.Client, server: LiveServer, token: str) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}
    return http.post(server.mcp_url, json=body, headers={"Authorization": f"Bearer {token}"})


def refused(response: httpx.Response, fragment: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert fragment in response.json()["error_description"], response.text


@pytest.fixture
def machine(live_server, tmp_path):
    signer = Signer("ES256", audience=live_server.url)
    return register(live_server, tmp_path, signer), signer


def test_a_machine_client_without_a_secret_calls_mcp(live_server, http, machine):
    client_id, signer = machine
    response = http.post("/oauth/token/", data=token_request(signer.sign(client_id)))
    assert response.status_code == 200, response.text
    answer = whoami(http, live_server, response.json()["access_token"])
    assert answer.status_code == 200, answer.text
    assert client_id in answer.text


def test_bad_assertions_are_refused(live_server, http, machine):
    client_id, signer = machine
    assertion = signer.sign(client_id, aud=live_server.url + "/oauth/token/")
    assert http.post("/oauth/token/", data=token_request(assertion)).status_code == 200
    refused(http.post("/oauth/token/", data=token_request(assertion)), "already used")
    wrong_aud = signer.sign(client_id, aud="https://other.example")
    refused(http.post("/oauth/token/", data=token_request(wrong_aud)), "aud")
    expired = signer.sign(client_id, lifetime=-120)
    refused(http.post("/oauth/token/", data=token_request(expired)), "expired")
    other_key = Signer("ES256", kid=signer.kid, audience=live_server.url)
    refused(http.post("/oauth/token/", data=token_request(other_key.sign(client_id))), "signature")
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": live_server.url, "exp": now + 60, "jti": "x"}
    refused(http.post("/oauth/token/", data=token_request(jwt.encode(claims, None, algorithm="none"))), "alg")


def test_introspection_and_revocation_with_assertions(live_server, http, machine):
    client_id, signer = machine
    token = http.post("/oauth/token/", data=token_request(signer.sign(client_id))).json()["access_token"]
    introspect = live_server.url + "/oauth/introspect/"
    answer = http.post("/oauth/introspect/", data={"token": token, **credentials(signer.sign(client_id, aud=introspect))})
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"] is True and answer.json()["client_id"] == client_id
    revoked = http.post("/oauth/revoke/", data={"token": token, **credentials(signer.sign(client_id))})
    assert revoked.status_code == 200, revoked.text
    assert whoami(http, live_server, token).status_code == 401
    answer = http.post("/oauth/introspect/", data={"token": token, **credentials(signer.sign(client_id))})
    assert answer.json() == {"active": False}


@pytest.mark.slow
def test_keys_served_at_a_jwks_uri(tmp_path):
    """A server of its own, allowed to fetch from the loopback test host (as CIMD's e2e test does)."""
    from tests.authserver.cimd_server import Document, DocumentServer

    keys = DocumentServer(tmp_path)
    env = {"CIMD_PRIVATE_HOSTS": "localhost", "SSL_CERT_FILE": str(keys.ca_file)}
    try:
        with LiveServer(workers=1, env=env) as server:
            signer = Signer("RS256", audience=server.url)
            keys.documents["/ci/jwks.json"] = Document(json.dumps(signer.jwks).encode())
            client_id = register(server, tmp_path, jwks_uri=keys.url("/ci/jwks.json"))
            with httpx.Client(base_url=server.url, timeout=30) as http:
                for _ in range(2):
                    response = http.post("/oauth/token/", data=token_request(signer.sign(client_id)))
                    assert response.status_code == 200, response.text
                assert whoami(http, server, response.json()["access_token"]).status_code == 200
    finally:
        keys.close()
    assert keys.requests == ["/ci/jwks.json"]  # fetched once, then served from the shared cache

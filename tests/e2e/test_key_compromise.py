"""A signing key retired as compromised, against the production serving command with several workers:
tokens forged with it are refused by every worker on the next request, though each had verified
(and cached) them a moment before, and the command that withdrew the key ran in another process."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from .liveserver import LiveServer

pytestmark = pytest.mark.slow  # a server of its own

CONNECTIONS = 6  # kept-alive connections: spread over the workers, each keeps its verification cached


@pytest.fixture(scope="module")
def server():
    # One second of clock leeway: a token issued a second after the deny-list started is not asked of
    # the database (where a forged token has no row), as on any server running for a while.
    with LiveServer(workers=2, threads=2, env={"MCP_LEEWAY_SECONDS": "1"}) as live:
        yield live


def forge(server: LiveServer) -> str:
    """What a thief holding the current private key mints: an admin with every scope, issued now."""
    script = "from authserver import keys; key = keys.ensure_key(); print('kid:', key.kid); print(key.private_key)"
    output = server.manage("shell", "-v", "0", "-c", script).stdout
    kid = output.split("kid: ", 1)[1].split()[0]
    pem = output[output.index("-----BEGIN") :]
    now = int(time.time())
    claims = {
        "iss": server.url,
        "sub": "999",
        "aud": server.mcp_url,
        "client_id": "forged",
        "scope": "mcp:read mcp:tools mcp:prompts",
        "roles": ["admin"],
        "iat": now,
        "exp": now + 3600,
    }
    return jwt.encode(claims, pem.strip(), algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})


def whoami(http: httpx.Client, server: LiveServer, token: str) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}
    return http.post(server.mcp_url, json=body, headers={"Authorization": f"Bearer {token}"})


def start_the_deny_list(server: LiveServer) -> None:
    token = httpx.post(
        server.url + "/oauth/token/",
        data={"grant_type": "client_credentials"},
        auth=("demo-service", "demo-service-secret"),
        timeout=10,
    ).json()["access_token"]
    with httpx.Client(timeout=10) as http:
        assert whoami(http, server, token).status_code == 200
    time.sleep(2.5)


def test_every_worker_refuses_a_compromised_keys_tokens_on_the_next_request(server):
    start_the_deny_list(server)
    forged = forge(server)
    clients = [httpx.Client(timeout=10) for _ in range(CONNECTIONS)]
    try:
        for http in clients:
            for _ in range(2):  # the second one is answered from the worker's verification cache
                response = whoami(http, server, forged)
                assert response.status_code == 200, response.text
        server.manage("rotate_signing_key", "--compromised")
        for http in clients:
            response = whoami(http, server, forged)
            assert response.status_code == 401, response.text
            assert 'error="invalid_token"' in response.headers["www-authenticate"]
        published = httpx.get(server.url + "/.well-known/jwks.json", timeout=10).json()["keys"]
        assert len(published) == 1
    finally:
        for http in clients:
            http.close()

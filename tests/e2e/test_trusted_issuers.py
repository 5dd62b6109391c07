"""A live server configured by environment to trust a Keycloak realm (``MCP_TRUSTED_ISSUERS``) beside
its own issuer: the realm's keys are fetched over HTTP, its tokens reach the tools as Keycloak shaped
them, and a key rotation at the realm is picked up once the refresh interval allows."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.mcpserver.keycloak import Realm

from .liveserver import LiveServer

pytestmark = pytest.mark.slow


def whoami(server: LiveServer, token: str) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}
    return httpx.post(server.mcp_url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_a_live_server_trusts_a_keycloak_realm_beside_its_own_issuer():
    realm = Realm().serve()
    server = LiveServer(
        workers=1, env={"MCP_TRUSTED_ISSUERS": json.dumps({"issuer": realm.issuer, "preset": "keycloak"})}
    )
    server.start()
    try:
        metadata = httpx.get(server.url + "/.well-known/oauth-protected-resource/mcp").json()
        assert metadata["authorization_servers"] == [server.url, realm.issuer]

        audience = [server.mcp_url, "account"]  # as an audience mapper adds the resource
        response = whoami(server, realm.token(audience))
        assert response.status_code == 200, response.text
        caller = response.json()["result"]["structuredContent"]
        assert caller["username"] == "kim" and caller["client_id"] == "mcp-inspector"
        assert "mcp-user" in caller["roles"]
        assert realm.fetches == 1

        own = httpx.post(
            server.url + "/oauth/token/",
            data={"grant_type": "client_credentials"},
            auth=("demo-service", "demo-service-secret"),
        ).json()["access_token"]
        assert whoami(server, own).json()["result"]["structuredContent"]["client_id"] == "demo-service"

        refused = whoami(server, realm.token("account"))  # Keycloak's default audience
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]

        realm.rotate(keep_old=False)
        rotated = realm.token(audience)
        deadline = time.monotonic() + 15  # KEY_REFRESH_INTERVAL (5 s) after the first fetch at most
        while (status := whoami(server, rotated).status_code) == 401 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert status == 200
        assert realm.fetches == 2  # one worker, one refresh however many unknown-kid requests came first
    finally:
        server.stop()
        realm.stop()

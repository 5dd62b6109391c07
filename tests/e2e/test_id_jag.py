"""Enterprise-managed authorization (ID-JAG) against the live server: an identity provider simulated
here (its keys served over HTTPS on the loopback host), configured through the management API; its
assertions are exchanged at the token endpoint over real HTTP, and the token calls a tool on /mcp.
Every refusal is an OAuth JSON error."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.authserver.cimd_server import Document, DocumentServer
from tests.idp import IdentityProvider, token_request

from .liveserver import LiveServer

pytestmark = pytest.mark.slow

ISSUER = "https://idp.acme.example"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The key server publishing the provider's keys, a live server allowed to fetch from it, the
    provider, and an administrator's API token."""
    keys = DocumentServer(tmp_path_factory.mktemp("idjag"))
    server = LiveServer(
        workers=1, env={"CIMD_PRIVATE_HOSTS": "localhost", "SSL_CERT_FILE": str(keys.ca_file)}
    )
    server.start()
    idp = IdentityProvider(ISSUER, server.url, server.mcp_url)
    keys.documents["/acme/jwks.json"] = Document(json.dumps(idp.jwks).encode())
    try:
        yield keys, server, idp, server.issue_token("admin", ["admin:read", "admin:write"])
    finally:
        server.stop()
        keys.close()


@pytest.fixture
def world(setup):
    """A confidential client, the provider trusted for it through the API, alice linked to U0001."""
    keys, server, idp, admin = setup
    args = [
        "create_client",
        "--name",
        "enterprise",
        "--grant",
        "authorization-code",
        "--scopes",
        "mcp:read,mcp:tools",
    ]
    made = json.loads(server.manage(*args, "--redirect-uri", "https://app.example/cb", "--json").stdout)
    api = httpx.Client(
        base_url=server.url + "/api/v1/", headers={"Authorization": f"Bearer {admin}"}, timeout=30
    )
    body = {
        "name": "Acme",
        "issuer": ISSUER,
        "jwks_uri": keys.url("/acme/jwks.json"),
        "clients": [made["client_id"]],
    }
    provider = api.post("identity-providers/", json=body)
    assert provider.status_code == 201, provider.text
    alice = api.get("users/", params={"username": "alice"}).json()["results"][0]["id"]
    link = api.post(
        "federated-identities/", json={"provider": provider.json()["id"], "subject": "U0001", "user": alice}
    )
    assert link.status_code == 201, link.text
    yield server, idp, (made["client_id"], made["client_secret"]), api, provider.json()["id"]
    api.delete(f"identity-providers/{provider.json()['id']}/")
    api.close()


def exchange(server: LiveServer, assertion: str, auth) -> httpx.Response:
    return httpx.post(server.url + "/oauth/token/", data=token_request(assertion), auth=auth, timeout=30)


def whoami(server: LiveServer, token: str) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}
    return httpx.post(server.mcp_url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def refused(response: httpx.Response, fragment: str, error: str = "invalid_grant") -> None:
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"] == error, response.text
    assert fragment in response.json()["error_description"], response.text


def test_an_enterprise_assertion_becomes_a_token_that_calls_mcp(world):
    server, idp, auth, _, _ = world
    metadata = httpx.get(server.url + "/.well-known/oauth-authorization-server", timeout=30).json()
    assert "urn:ietf:params:oauth:grant-type:jwt-bearer" in metadata["grant_types_supported"]
    response = exchange(server, idp.jag(auth[0], scope="mcp:read mcp:tools"), auth)
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()
    answer = whoami(server, response.json()["access_token"])
    assert answer.status_code == 200, answer.text
    caller = answer.json()["result"]["structuredContent"]
    assert caller["username"] == "alice" and caller["client_id"] == auth[0]


def test_bad_assertions_are_refused_over_http(world):
    server, idp, auth, api, provider = world
    refused(exchange(server, idp.jag(auth[0], typ="JWT"), auth), "typ")
    refused(exchange(server, idp.jag(auth[0], aud="https://other-as.example"), auth), "aud")
    refused(exchange(server, idp.jag(auth[0], resource="https://other.example/mcp"), auth), "resource")
    refused(exchange(server, idp.jag(auth[0], client_id="someone-else"), auth), "another client")
    refused(exchange(server, idp.jag(auth[0], lifetime=-120), auth), "expired")
    refused(exchange(server, idp.jag(auth[0], iss="https://unknown-idp.example"), auth), "not a trusted")
    refused(exchange(server, idp.jag(auth[0], subject="U9999"), auth), "not a user")
    assertion = idp.jag(auth[0])
    assert exchange(server, assertion, auth).status_code == 200
    refused(exchange(server, assertion, auth), "already used")
    assert api.patch(f"identity-providers/{provider}/", json={"enabled": False}).status_code == 200
    refused(exchange(server, idp.jag(auth[0]), auth), "no identity provider lists it", "unauthorized_client")
    assert server.errors_since(0) == []

"""Every one-time credential is spent on the whole deployment: a DPoP proof, a signed client assertion
(private_key_jwt) or an identity assertion (ID-JAG) accepted by instance A is refused as a replay by
instance B on its next request.

A and B are two server processes behind one public URL (A's address) sharing one PostgreSQL database
and one Redis, as in ``test_multi_instance``: the replay caches live in the shared state, never in a
process. PostgreSQL comes from ``E2E_DATABASE_URL`` (a database named after it with ``_replay``) or the
local server on port 5432; Redis from ``E2E_REDIS_URL``/``REDIS_URL`` or the local one. The tests are
skipped, naming what is missing, when either is unreachable. The identity provider's keys are served
over HTTPS on the loopback host (``tests.authserver.cimd_server``), which both instances may fetch.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests import idp as idp_module
from tests.assertion_signer import Signer, token_request
from tests.authserver.cimd_server import Document, DocumentServer
from tests.dpopclient import DpopKey

from . import flows, pairs
from .liveserver import LiveServer

pytestmark = pytest.mark.slow  # two servers of its own

IDP_ISSUER = "https://idp.replay.example"
ACCEPT = "application/json, text/event-stream"


@pytest.fixture(scope="module")
def key_server(tmp_path_factory):
    server = DocumentServer(tmp_path_factory.mktemp("replay-idp"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def pair(request, key_server):
    """Instance A and instance B of one deployment, both allowed to fetch from the loopback key server."""
    database, redis = pairs.database_url("replay"), pairs.redis_url()
    pairs.skip_unless_reachable(database, redis)
    env = {"CIMD_PRIVATE_HOSTS": "localhost", "SSL_CERT_FILE": str(key_server.ca_file), "LOG_FORMAT": "text"}
    with pairs.running(LiveServer(database_url=database, redis_url=redis, workers=1, env=env), request) as both:
        yield both


@pytest.fixture(scope="module")
def a(pair) -> LiveServer:
    return pair[0]


@pytest.fixture(scope="module")
def b(pair) -> LiveServer:
    return pair[1]


@pytest.fixture(autouse=True)
def _no_server_errors(pair):
    offsets = [server.log_size() for server in pair]
    yield
    for server, offset in zip(pair, offsets, strict=True):
        assert server.errors_since(offset) == [], server.log_text(offset)[-3000:]


def token(server: LiveServer, data: dict, **kwargs) -> httpx.Response:
    return httpx.post(server.url + flows.TOKEN, data=data, timeout=30, **kwargs)


def refused(response: httpx.Response, status: int, error: str, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error, response.text
    assert fragment in response.json()["error_description"], response.text


# --- DPoP (RFC 9449 §11.1): a proof once, on any instance ---


def test_a_dpop_proof_accepted_by_a_at_mcp_is_refused_by_b(a, b):
    key = DpopKey()
    proof = key.proof("POST", a.url + flows.TOKEN)  # the public URLs are A's, on both instances
    issued = token(a, {"grant_type": "client_credentials"}, auth=flows.SERVICE, headers={"DPoP": proof})
    assert issued.status_code == 200, issued.text
    access_token = issued.json()["access_token"]

    def call(server: LiveServer, proof: str) -> httpx.Response:
        headers = {"Authorization": f"DPoP {access_token}", "DPoP": proof, "Accept": ACCEPT}
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "echo", "arguments": {"message": "once"}}}  # fmt: skip
        return httpx.post(server.mcp_url, json=body, headers=headers, timeout=30)

    proof = key.proof("POST", a.mcp_url, access_token)
    accepted = call(a, proof)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["result"]["content"][0]["text"] == "once"
    replayed = call(b, proof)
    assert replayed.status_code == 401, replayed.text
    assert replayed.headers["WWW-Authenticate"].startswith('DPoP error="invalid_dpop_proof"')
    assert call(b, key.proof("POST", a.mcp_url, access_token)).status_code == 200  # a fresh one is fine


def test_a_dpop_proof_spent_at_as_token_endpoint_is_refused_by_bs(a, b):
    proof = DpopKey().proof("POST", a.url + flows.TOKEN)
    data = {"grant_type": "client_credentials"}
    assert token(a, data, auth=flows.SERVICE, headers={"DPoP": proof}).status_code == 200
    replayed = token(b, data, auth=flows.SERVICE, headers={"DPoP": proof})
    refused(replayed, 400, "invalid_dpop_proof", "used before")


# --- private_key_jwt (RFC 7523 §3): a client assertion once, on any instance ---


def test_a_client_assertion_used_at_a_is_refused_at_b(a, b, tmp_path):
    signer = Signer("ES256", audience=a.url)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(signer.jwks))
    args = ["create_client", "--name", "replayed", "--grant", "client-credentials", "--scopes", "mcp:read"]
    client_id = json.loads(a.manage(*args, "--jwks", str(jwks), "--json").stdout)["client_id"]
    assertion = signer.sign(client_id)
    assert token(a, token_request(assertion)).status_code == 200
    refused(token(b, token_request(assertion)), 401, "invalid_client", "already used")
    assert token(b, token_request(signer.sign(client_id))).status_code == 200


# --- ID-JAG (the jwt-bearer grant): an identity assertion once, on any instance ---


@pytest.fixture(scope="module")
def enterprise(a, key_server):
    """A confidential client trusting an identity provider (set up on A through the management API),
    and alice linked to the provider's subject U0001."""
    provider = idp_module.IdentityProvider(IDP_ISSUER, a.url, a.mcp_url)
    key_server.documents["/replay/jwks.json"] = Document(json.dumps(provider.jwks).encode())
    args = ["create_client", "--name", "enterprise", "--grant", "authorization-code", "--scopes", "mcp:read"]
    made = json.loads(a.manage(*args, "--redirect-uri", "https://app.example/cb", "--json").stdout)
    admin = a.issue_token("admin", ["admin:read", "admin:write"])
    with httpx.Client(
        base_url=a.url + "/api/v1/", headers={"Authorization": f"Bearer {admin}"}, timeout=30
    ) as api:
        body = {"name": "Replay IdP", "issuer": IDP_ISSUER, "jwks_uri": key_server.url("/replay/jwks.json"),
                "clients": [made["client_id"]]}  # fmt: skip
        created = api.post("identity-providers/", json=body)
        assert created.status_code == 201, created.text
        alice = api.get("users/", params={"username": "alice"}).json()["results"][0]["id"]
        link = {"provider": created.json()["id"], "subject": "U0001", "user": alice}
        assert api.post("federated-identities/", json=link).status_code == 201
    return provider, (made["client_id"], made["client_secret"])


def test_an_identity_assertion_used_at_a_is_refused_at_b(a, b, enterprise):
    provider, auth = enterprise
    assertion = provider.jag(auth[0], scope="mcp:read")
    accepted = token(a, idp_module.token_request(assertion), auth=auth)
    assert accepted.status_code == 200, accepted.text
    refused(token(b, idp_module.token_request(assertion), auth=auth), 400, "invalid_grant", "already used")
    fresh = token(b, idp_module.token_request(provider.jag(auth[0], scope="mcp:read")), auth=auth)
    assert fresh.status_code == 200, fresh.text

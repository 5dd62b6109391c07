"""RFC 8693 token exchange over real HTTP, on a server of its own: a confidential client (the MCP server's
own, configured by ``MCP_TOKEN_EXCHANGE_CLIENT_ID``/``_SECRET``) trades a user's token for one to a
downstream API, directly and from inside a tool (``ctx.exchange_token``) that then calls that API.

The downstream API is a small HTTP server in this process that does what any resource server does:
verifies the token with the issuer's JWKS and accepts only its own audience.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest

from . import flows
from .liveserver import LiveServer

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
GATEWAY = ("mcp-gateway", "gateway-secret-0123456789-abcdefghijklmnopqrstuvwxyz")
# A confidential client whose policy lists no token exchange audiences.
BYSTANDER = ("bystander", "bystander-secret-0123456789-abcdefghijklmnopqrstuvwxyz")
NOT_ALLOWED = "https://elsewhere.example/"
pytestmark = pytest.mark.slow  # a server of its own, with a tool module and the MCP server's exchange client


class Downstream(ThreadingHTTPServer):
    """A downstream API: answers who the token acts for when it is for this API's audience, else 401."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), DownstreamHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/profile"
        self.issuer = ""

    def verify(self, token: str) -> dict:
        keys = jwt.PyJWKSet.from_dict(httpx.get(self.issuer + "/.well-known/jwks.json", timeout=5).json())
        key = next(k for k in keys.keys if k.key_id == jwt.get_unverified_header(token)["kid"])
        return jwt.decode(token, key.key, algorithms=["RS256"], issuer=self.issuer, audience=self.url)


class DownstreamHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        try:
            claims = self.server.verify(token) if scheme == "Bearer" else None
        except (jwt.InvalidTokenError, StopIteration):
            claims = None
        status, body = (200, claims) if claims else (401, {"error": "invalid_token"})
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):  # quiet
        pass


TOOL_MODULE = '''
import json
import urllib.request

from mcpserver.registry import tool

DOWNSTREAM = {url!r}


@tool()
def downstream_profile(ctx, scope: str = "mcp:read") -> dict:
    """Ask the downstream API who it sees, with a token exchanged for it.

    Args:
        scope: The scopes to ask the exchanged token for.
    """
    token = ctx.exchange_token(audience=DOWNSTREAM, scope=scope)
    request = urllib.request.Request(DOWNSTREAM, headers={{"Authorization": token.authorization}})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())
'''

SETUP = """
from authserver.clients import create_client
create_client(
    "MCP gateway", "client-credentials", ["mcp:read", "mcp:tools"], client_id={id!r}, client_secret={secret!r},
    token_exchange_audiences=[{url!r}],
)
create_client("Bystander", "client-credentials", ["mcp:read"], client_id={bystander!r}, client_secret={bystander_secret!r})
"""


@pytest.fixture(scope="module")
def downstream():
    server = Downstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, downstream):
    """A server whose MCP side exchanges with the gateway client and serves a tool that does so."""
    where = tmp_path_factory.mktemp("exchange-tool")
    (where / "exchange_tools.py").write_text(TOOL_MODULE.format(url=downstream.url))
    (where / "exchange_settings.py").write_text(
        "from config.settings import *  # noqa: F403\n"
        "from mcpserver.conf import DEFAULTS\n"
        "MCPSERVER = {**MCPSERVER, 'CAPABILITIES': [*DEFAULTS['CAPABILITIES'], 'exchange_tools']}  # noqa: F405\n"
    )
    env = {
        "PYTHONPATH": str(where),
        "DJANGO_SETTINGS_MODULE": "exchange_settings",
        "MCP_TOKEN_EXCHANGE_CLIENT_ID": GATEWAY[0],
        "MCP_TOKEN_EXCHANGE_CLIENT_SECRET": GATEWAY[1],
    }
    with LiveServer(workers=1, env=env) as live:
        live.manage("shell", "-c", SETUP.format(
            id=GATEWAY[0], secret=GATEWAY[1], url=downstream.url, bystander=BYSTANDER[0], bystander_secret=BYSTANDER[1]
        ))
        downstream.issuer = live.url
        yield live


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture(autouse=True)
def no_server_errors(server):
    offset = server.log_size()
    yield
    assert server.errors_since(offset) == []


def user_token(http, scope: str = "mcp:read mcp:tools") -> str:
    response = flows.password_grant(http, "alice", scope=scope)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def exchange(http, subject_token: str, auth=GATEWAY, **data) -> httpx.Response:
    body = {"grant_type": EXCHANGE, "subject_token": subject_token, "subject_token_type": ACCESS_TOKEN, **data}
    return http.post(flows.TOKEN, data=body, headers=flows.basic(*auth) if auth else {})


def refused(response: httpx.Response, error: str) -> str:
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"] == error, response.text
    return response.json()["error_description"]


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_the_metadata_offers_token_exchange(http):
    assert EXCHANGE in http.get("/.well-known/oauth-authorization-server").json()["grant_types_supported"]


def test_an_exchanged_token_acts_for_the_user_at_the_downstream_api(http, downstream):
    subject = user_token(http)
    response = exchange(http, subject, audience=downstream.url)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["issued_token_type"] == ACCESS_TOKEN and body["token_type"] == "Bearer"
    assert "refresh_token" not in body
    seen = httpx.get(downstream.url, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert seen.status_code == 200, seen.text
    assert seen.json()["act"] == {"sub": GATEWAY[0]}
    assert seen.json()["sub"] == claims_of(subject)["sub"] and seen.json()["username"] == "alice"
    # The user's own token is for /mcp: the downstream API refuses it, which is why the exchange exists.
    assert httpx.get(downstream.url, headers={"Authorization": f"Bearer {subject}"}).status_code == 401


def test_mcp_refuses_a_token_exchanged_for_another_audience(http, server, downstream):
    exchanged = exchange(http, user_token(http), audience=downstream.url).json()["access_token"]
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}
    response = http.post(server.mcp_url, json=call, headers={"Authorization": f"Bearer {exchanged}"})
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_tool_exchanges_the_callers_token_and_calls_the_downstream_api(http, server):
    subject = user_token(http)
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "downstream_profile", "arguments": {"scope": "mcp:read"}}}  # fmt: skip
    headers = {"Authorization": f"Bearer {subject}", "Accept": "application/json, text/event-stream"}
    response = http.post(server.mcp_url, json=call, headers=headers)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert not result.get("isError"), result
    seen = result.get("structuredContent") or json.loads(result["content"][0]["text"])  # era: no structured content
    assert seen["act"] == {"sub": GATEWAY[0]} and seen["username"] == "alice" and seen["scope"] == "mcp:read"


def test_a_tool_asking_for_a_wider_scope_gets_a_tool_error(http, server):
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "downstream_profile", "arguments": {"scope": "mcp:prompts"}}}  # fmt: skip
    headers = {"Authorization": f"Bearer {user_token(http)}", "Accept": "application/json, text/event-stream"}
    result = http.post(server.mcp_url, json=call, headers=headers).json()["result"]
    assert result["isError"] is True
    assert "invalid_scope" in result["content"][0]["text"]


def test_a_narrower_scope_is_granted_and_a_wider_one_refused(http, downstream):
    narrowed = exchange(http, user_token(http), audience=downstream.url, scope="mcp:read")
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scope"] == "mcp:read" and claims_of(narrowed.json()["access_token"])["scope"] == "mcp:read"
    wider = exchange(http, user_token(http, scope="mcp:read"), audience=downstream.url, scope="mcp:read mcp:tools")
    assert "mcp:tools" in refused(wider, "invalid_scope")


def test_an_audience_not_allowed_is_invalid_target(http, downstream):
    assert NOT_ALLOWED in refused(exchange(http, user_token(http), audience=NOT_ALLOWED), "invalid_target")
    refused(exchange(http, user_token(http), resource=NOT_ALLOWED), "invalid_target")


def test_a_revoked_subject_token_is_refused(http, downstream):
    subject = user_token(http)
    revoked = http.post("/oauth/revoke/", data={"token": subject, "client_id": flows.CLI_CLIENT})
    assert revoked.status_code == 200, revoked.text
    assert "revoked" in refused(exchange(http, subject, audience=downstream.url), "invalid_request")


def test_an_expired_subject_token_is_refused(http, server, downstream):
    subject = server.issue_token("alice", ["mcp:read"], lifetime=1)
    time.sleep(2.1)
    assert "expired" in refused(exchange(http, subject, audience=downstream.url), "invalid_request")


def test_a_public_client_is_refused(http, downstream):
    response = exchange(http, user_token(http), auth=None, audience=downstream.url, client_id=flows.CLI_CLIENT)
    assert "confidential" in refused(response, "unauthorized_client")


def test_a_client_not_allowed_to_exchange_is_refused(http, downstream):
    response = exchange(http, user_token(http), auth=BYSTANDER, audience=downstream.url)
    assert "no token exchange audiences" in refused(response, "unauthorized_client")


def test_the_lifetime_is_capped_by_the_subject_token(http, server, downstream):
    subject = server.issue_token("alice", ["mcp:read"], lifetime=60)
    response = exchange(http, subject, audience=downstream.url)
    assert response.status_code == 200, response.text
    assert 0 < response.json()["expires_in"] <= 60
    assert claims_of(response.json()["access_token"])["exp"] <= claims_of(subject)["exp"]

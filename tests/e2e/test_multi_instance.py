"""Two instances of one deployment share everything that matters: tokens, revocations, sessions, keys,
lockouts, rate limits (the management API's too), consents, refresh rotations and device authorizations.

Instance A and instance B are two server processes (the production serving command, two workers
each) on different ports, as behind a load balancer: one PostgreSQL database, one Redis, one secret
key and one public URL (A's address). Every assertion crosses instances: what one instance
did, the other one sees on its very next request.

PostgreSQL comes from ``E2E_DATABASE_URL`` (a database named after it with ``_multi``) or the local
server on port 5432; Redis from ``E2E_REDIS_URL``/``REDIS_URL`` or the local one on port 6379. The
tests are skipped, naming what is missing, when either is unreachable.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from urllib.parse import urlencode

import httpx
import pytest

from . import flows, pairs
from .liveserver import LiveServer

pytestmark = pytest.mark.slow  # two servers of its own: run once per CI run (.ci/run)

LOGIN_FAILURE_LIMIT = 5
TOKEN_RATE_LIMIT = 40
MANAGEMENT_API_LIMIT = 10
KEY_RECHECK_SECONDS = 2
SETTINGS = {
    "TOKEN_RATE_LIMIT": str(TOKEN_RATE_LIMIT),
    "TOKEN_RATE_WINDOW": "3600",  # one window for the whole module: no reset half-way through a test
    "MANAGEMENT_API_RATE": f"{MANAGEMENT_API_LIMIT}/hour",
    "LOGIN_FAILURE_LIMIT": str(LOGIN_FAILURE_LIMIT),
    "SIGNING_KEY_RECHECK_SECONDS": str(KEY_RECHECK_SECONDS),
    "LOG_FORMAT": "text",
    # DPoP proofs must carry server nonces, on both sides (only the DPoP tests send proofs).
    "DPOP_NONCE_REQUIRED": "true",
    "MCP_DPOP_NONCE_REQUIRED": "true",
}
LEGACY_VERSION = "2025-11-25"
ACCEPT = "application/json, text/event-stream"


@pytest.fixture(scope="module")
def pair(request):
    """Instance A and instance B of one deployment, started in that order and stopped together."""
    database, redis = pairs.database_url("multi"), pairs.redis_url()
    pairs.skip_unless_reachable(database, redis)
    first = LiveServer(database_url=database, redis_url=redis, workers=2, env=SETTINGS)
    with pairs.running(first, request) as both:
        yield both


@pytest.fixture(scope="module")
def a(pair) -> LiveServer:
    return pair[0]


@pytest.fixture(scope="module")
def b(pair) -> LiveServer:
    return pair[1]


@pytest.fixture(autouse=True)
def _no_server_errors(pair):
    """Neither instance may log a 5xx, a traceback-worthy error or a killed worker during a test."""
    offsets = [server.log_size() for server in pair]
    yield
    for server, offset in zip(pair, offsets, strict=True):
        assert server.errors_since(offset) == [], server.log_text(offset)[-3000:]


# --- helpers ---


def client_credentials(server: LiveServer, credentials: tuple[str, str] = flows.SERVICE) -> httpx.Response:
    return httpx.post(
        server.url + flows.TOKEN, data={"grant_type": "client_credentials"}, auth=credentials, timeout=10
    )


def service_token(server: LiveServer) -> str:
    response = client_credentials(server)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def tools_call(http: httpx.Client | None, server: LiveServer, token: str, message: str) -> httpx.Response:
    """A stateless tools/call of ``echo`` (the 2025-03-26 shape: no session needed)."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": message}},
    }
    post = http.post if http is not None else httpx.post
    return post(server.mcp_url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def echoed(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["result"]["content"][0]["text"]


def key_id(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def mcp_message(server: LiveServer, token: str, message: dict, session: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT, "MCP-Protocol-Version": LEGACY_VERSION}
    if session:
        headers["Mcp-Session-Id"] = session
    return httpx.post(server.mcp_url, json=message, headers=headers, timeout=10)


# --- tokens and revocation ---


def test_a_token_issued_by_a_is_accepted_by_b(a, b):
    token = service_token(a)
    assert echoed(tools_call(None, b, token, "from A to B")) == "from A to B"
    # B's authorization server side knows the token too: introspection reads the shared database.
    introspected = httpx.post(
        b.url + "/oauth/introspect/", data={"token": token}, auth=flows.SERVICE, timeout=10
    ).json()
    assert introspected["active"] is True
    assert introspected["iss"] == a.url  # one issuer string for the whole deployment


def test_a_token_revoked_on_a_is_refused_by_b_on_its_next_request(a, b):
    token = service_token(a)
    # One kept-alive connection: the same B worker verifies the token and caches the verification.
    with httpx.Client(timeout=10) as to_b:
        for _ in range(3):
            assert echoed(tools_call(to_b, b, token, "cached on B")) == "cached on B"
        revoked = httpx.post(a.url + "/oauth/revoke/", data={"token": token}, auth=flows.SERVICE, timeout=10)
        assert revoked.status_code == 200, revoked.text
        refused = tools_call(to_b, b, token, "after revocation")
    assert refused.status_code == 401, refused.text
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert refused.json()["error"] == "invalid_token"
    # Every other worker of both instances refuses it as well.
    for server in (a, b, b, a):
        assert tools_call(None, server, token, "anywhere").status_code == 401


# --- legacy sessions ---


def test_a_session_opened_on_a_continues_on_b_and_a_delete_on_b_ends_it_for_a(a, b):
    token = service_token(a)
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": LEGACY_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "multi-instance-test", "version": "1"},
        },
    }
    opened = mcp_message(a, token, initialize)
    assert opened.status_code == 200, opened.text
    session = opened.headers["mcp-session-id"]
    assert opened.json()["result"]["protocolVersion"] == LEGACY_VERSION

    initialized = mcp_message(b, token, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    assert initialized.status_code == 202
    listed = mcp_message(b, token, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, session)
    assert listed.status_code == 200, listed.text
    assert "echo" in {tool["name"] for tool in listed.json()["result"]["tools"]}
    call = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "B"}},
    }
    assert echoed(mcp_message(b, token, call, session)) == "B"
    assert echoed(mcp_message(a, token, call, session)) == "B"

    ended = httpx.delete(
        b.mcp_url,
        headers={
            "Authorization": f"Bearer {token}",
            "Mcp-Session-Id": session,
            "MCP-Protocol-Version": LEGACY_VERSION,
        },
        timeout=10,
    )
    assert ended.status_code == 204, ended.text
    for server in (a, b):
        gone = mcp_message(server, token, call, session)
        assert gone.status_code == 404, gone.text
        assert gone.json()["error"]["code"] == -32001  # Session not found: the client starts over


# --- lockouts and rate limits ---


def test_failed_password_grants_on_a_and_b_lock_the_user_everywhere(a, b):
    with httpx.Client(base_url=a.url, timeout=10) as to_a, httpx.Client(base_url=b.url, timeout=10) as to_b:
        for attempt in range(LOGIN_FAILURE_LIMIT):
            response = flows.password_grant((to_a, to_b)[attempt % 2], "bob", password="wrong")
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "invalid_grant"
        # The right password no longer helps, on either instance, through either door.
        locked = flows.password_grant(to_b, "bob")
        assert locked.status_code == 429, locked.text
        assert int(locked.headers["retry-after"]) > 0
        assert locked.json()["error"] == "temporarily_unavailable"
        page = flows.login(to_a, "bob", "bob-password", "/accounts/")
        assert page.status_code == 429
        assert int(page.headers["retry-after"]) > 0


def test_failed_sign_ins_on_the_login_page_of_b_lock_the_password_grant_on_a(a, b):
    with httpx.Client(base_url=a.url, timeout=10) as to_a, httpx.Client(base_url=b.url, timeout=10) as to_b:
        for _ in range(LOGIN_FAILURE_LIMIT):
            assert flows.login(to_b, "guest", "wrong", "/accounts/").status_code == 200  # the form again
        locked = flows.password_grant(to_a, "guest")
        assert locked.status_code == 429, locked.text


def test_the_per_client_token_rate_limit_is_counted_across_instances(a, b):
    created = json.loads(
        a.manage(
            "create_client",
            "--name",
            "rate limited",
            "--grant",
            "client-credentials",
            "--scopes",
            "mcp:read",
            "--json",
        ).stdout
    )
    credentials = (created["client_id"], created["client_secret"])
    # Half of the allowance on each instance: neither one alone reaches the limit.
    for i in range(TOKEN_RATE_LIMIT):
        response = client_credentials((a, b)[i % 2], credentials)
        assert response.status_code == 200, (i, response.text)
    for server in (a, b):
        limited = client_credentials(server, credentials)
        assert limited.status_code == 429, limited.text
        assert limited.json()["error"] == "temporarily_unavailable"
        assert int(limited.headers["retry-after"]) > 0


def test_the_management_api_rate_limit_per_user_is_counted_across_instances(a, b):
    headers = {"Authorization": f"Bearer {a.issue_token('admin', ['admin:read'])}"}
    # Half of the allowance on each instance: neither one alone reaches the limit.
    for i in range(MANAGEMENT_API_LIMIT):
        response = httpx.get((a, b)[i % 2].url + "/api/v1/scopes/", headers=headers, timeout=10)
        assert response.status_code == 200, (i, response.text)
    for server in (a, b):
        limited = httpx.get(server.url + "/api/v1/scopes/", headers=headers, timeout=10)
        assert limited.status_code == 429, limited.text
        assert int(limited.headers["retry-after"]) > 0
        assert "throttled" in limited.json()["detail"]


def test_parallel_refreshes_of_one_token_on_a_and_b_all_get_the_same_pair(a, b):
    args = ["--name", "two tabs", "--grant", "password", "--public", "--scopes", "mcp:read,mcp:tools"]
    created = a.manage("create_client", *args, "--json")
    client_id = json.loads(created.stdout)["client_id"]
    with httpx.Client(base_url=a.url, timeout=10) as to_a:
        issued = flows.password_grant(to_a, "alice", scope="mcp:read mcp:tools", client_id=client_id).json()
    # Half the copies on each instance: the rotation on one, the sealed pair read back on the other.
    responses = flows.refresh_race([a.url, b.url], issued["refresh_token"], client_id)
    assert [r.status_code for r in responses] == [200] * len(responses), [r.text for r in responses]
    assert len({(r.json()["access_token"], r.json()["refresh_token"]) for r in responses}) == 1
    successor = responses[0].json()
    assert echoed(tools_call(None, b, successor["access_token"], "refreshed")) == "refreshed"
    with httpx.Client(base_url=b.url, timeout=10) as to_b:
        following = flows.refresh(to_b, successor["refresh_token"], client_id=client_id)
    assert following.status_code == 200, following.text


def test_a_device_started_on_a_is_paced_across_both_approved_on_b_and_its_token_works_on_a(a, b):
    device = "urn:ietf:params:oauth:grant-type:device_code"
    args = ["--name", "server CLI", "--grant", device, "--public", "--scopes", "mcp:read,mcp:tools", "--json"]
    client_id = json.loads(a.manage("create_client", *args).stdout)["client_id"]
    asked = {"client_id": client_id, "scope": "mcp:tools"}
    started = httpx.post(a.url + "/oauth/device_authorization/", data=asked).json()
    poll = {"grant_type": device, "device_code": started["device_code"], "client_id": client_id}
    assert httpx.post(a.url + flows.TOKEN, data=poll).json()["error"] == "authorization_pending"
    assert httpx.post(b.url + flows.TOKEN, data=poll).json()["error"] == "slow_down"  # one pace for both
    with httpx.Client(base_url=b.url, timeout=10) as person:
        entered = flows.enter_user_code(person, started)
        assert flows.decide_device(person, entered.headers["location"]) == ["mcp:tools"]
    token = httpx.post(a.url + flows.TOKEN, data=poll)
    assert token.status_code == 200, token.text
    assert echoed(tools_call(None, a, token.json()["access_token"], "from the device")) == "from the device"
    assert httpx.post(b.url + flows.TOKEN, data=poll).json()["error"] == "expired_token"  # spent everywhere


# --- consent ---


def _remember_consent(http: httpx.Client, url: str) -> dict[str, str]:
    """Allow on the consent page with "remember this decision" ticked; return the redirect's parameters."""
    page = http.get(url)
    assert page.status_code == 200, page.text[:2000]
    (form,) = [f for f in flows.forms(page.text) if f["id"] == "authorizationForm"]
    assert any(i.get("name") == "remember" for i in form["inputs"]), "the consent page offers no remember box"
    shown = [i["value"] for i in form["inputs"] if i.get("name") == "scopes"]
    data = [*flows.hidden_fields(form).items(), ("scope_choice", "1"), ("remember", "1")]
    data += [("scopes", s) for s in shown] + [("allow", "Authorize")]
    answer = http.post(
        form["action"] or url,
        content=urlencode(data),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 302, answer.text[:2000]
    return dict(httpx.URL(answer.headers["location"]).params)


def _signed_in(http: httpx.Client, url: str) -> None:
    first = http.get(url)
    assert first.status_code == 302
    if "/accounts/login/" in first.headers["location"]:
        assert flows.login(http, "alice", "alice-password", url).status_code == 302


def test_a_consent_given_on_a_is_remembered_on_b(a, b):
    scope = "mcp:read mcp:tools"
    with httpx.Client(base_url=a.url, timeout=10) as on_a:
        verifier, challenge = flows.pkce_pair()
        url = flows.authorize_url(challenge, scope, secrets.token_urlsafe(8))
        _signed_in(on_a, url)
        params = _remember_consent(on_a, url)
        assert flows.exchange(on_a, params["code"], verifier).status_code == 200

    with httpx.Client(base_url=b.url, timeout=10) as on_b:  # a new browser session, on the other instance
        verifier, challenge = flows.pkce_pair()
        state = secrets.token_urlsafe(8)
        url = flows.authorize_url(challenge, scope, state)
        _signed_in(on_b, url)
        answer = on_b.get(url)
        assert answer.status_code == 302, answer.text[:2000]  # no consent page this time
        location = httpx.URL(answer.headers["location"])
        assert str(location).startswith(flows.WEB_REDIRECT)
        assert location.params["state"] == state
        assert location.params["iss"] == a.url
        token = flows.exchange(on_b, location.params["code"], verifier)
    assert token.status_code == 200, token.text
    assert set(token.json()["scope"].split()) == set(scope.split())
    assert echoed(tools_call(None, a, token.json()["access_token"], "consented")) == "consented"


# --- key rotation (last: every later token is signed with the new key) ---


def test_a_key_rotated_on_a_signs_on_a_within_the_recheck_interval_and_verifies_on_b(a, b):
    before = service_token(a)
    old_kid = key_id(before)
    assert echoed(tools_call(None, b, before, "old key")) == "old key"  # B has loaded the old key set

    new_kid = a.manage("rotate_signing_key").stdout.strip()  # another process, as an admin would
    assert new_kid and new_kid != old_kid
    rotated_at = time.monotonic()
    deadline = rotated_at + KEY_RECHECK_SECONDS + 1.5  # the interval, plus request and polling time
    signed_with = {}
    while time.monotonic() < deadline:
        token = service_token(a)
        signed_with[key_id(token)] = token
        if new_kid in signed_with:
            break
        time.sleep(0.4)
    assert new_kid in signed_with, (
        f"A still signs with {old_kid} {KEY_RECHECK_SECONDS} s + 1.5 s after the rotation"
    )

    # B has never seen the new key: it learns it from the shared database, without a restart.
    assert echoed(tools_call(None, b, signed_with[new_kid], "new key")) == "new key"
    assert echoed(tools_call(None, b, before, "old key again")) == "old key again"  # rotation breaks nothing
    for server in (a, b):
        published = {
            jwk["kid"] for jwk in httpx.get(server.url + "/.well-known/jwks.json", timeout=10).json()["keys"]
        }
        assert {old_kid, new_kid} <= published
    # Within the recheck interval every worker of A has moved to the new key.
    time.sleep(KEY_RECHECK_SECONDS + 0.5)
    assert {key_id(service_token(a)) for _ in range(8)} == {new_kid}


# --- DPoP (RFC 9449): nonces from either instance, proofs spent on both ---


def test_a_dpop_nonce_from_a_works_on_b_and_a_proof_spent_on_a_is_refused_by_b(a, b):
    from tests.dpopclient import DpopKey

    key, token_url = DpopKey(), a.url + flows.TOKEN  # the public URLs are A's
    asked = httpx.post(b.url + flows.TOKEN, data={"grant_type": "client_credentials"}, auth=flows.SERVICE,
                       headers={"DPoP": key.proof("POST", token_url)}, timeout=10)  # fmt: skip
    assert (asked.status_code, asked.json()["error"]) == (400, "use_dpop_nonce")
    nonce = asked.headers["DPoP-Nonce"]
    issued = httpx.post(a.url + flows.TOKEN, data={"grant_type": "client_credentials"}, auth=flows.SERVICE,
                        headers={"DPoP": key.proof("POST", token_url, nonce=nonce)}, timeout=10)  # fmt: skip
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]

    def call(server: LiveServer, proof: str) -> httpx.Response:
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof, "Accept": ACCEPT}
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "echo", "arguments": {"message": "bound"}}}  # fmt: skip
        return httpx.post(server.mcp_url, json=body, headers=headers, timeout=10)

    refused = call(a, key.proof("POST", a.mcp_url, token))
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith('DPoP error="use_dpop_nonce"')
    proof = key.proof("POST", a.mcp_url, token, nonce=refused.headers["DPoP-Nonce"])
    assert echoed(call(b, proof)) == "bound"
    replayed = call(a, proof)
    assert replayed.status_code == 401
    assert replayed.headers["WWW-Authenticate"].startswith('DPoP error="invalid_dpop_proof"')

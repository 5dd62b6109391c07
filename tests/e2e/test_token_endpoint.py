"""The token endpoint over real HTTP: client credentials, password, RFC 6749 errors, concurrency."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from . import flows

ALL_SCOPES = {"mcp:read", "mcp:tools", "mcp:prompts"}
RFC6749_ERRORS = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
}


pytestmark = pytest.mark.usefixtures("no_server_errors")


def assert_token_response(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    assert "no-store" in response.headers["cache-control"]
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["access_token"].count(".") == 2
    assert body["expires_in"] > 0
    return body


def assert_oauth_error(response: httpx.Response, error: str, status: int = 400) -> dict:
    """RFC 6749 §5.2: a JSON object with ``error`` and a description saying why, never cached."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert body["error"] == error, body
    assert set(body) <= {"error", "error_description", "error_uri", "state"}
    assert body.get("error_description"), body
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic realm="), response.headers
    return body


def test_client_credentials_with_http_basic(http):
    body = assert_token_response(flows.client_credentials(http))
    assert set(body["scope"].split()) == ALL_SCOPES
    assert "refresh_token" not in body


def test_client_credentials_with_form_post(http):
    body = assert_token_response(flows.client_credentials(http, scope="mcp:read", form_post=True))
    assert body["scope"] == "mcp:read"


def test_client_credentials_narrows_to_known_scopes(http):
    body = assert_token_response(flows.client_credentials(http, scope="mcp:read no:such-scope"))
    assert body["scope"] == "mcp:read"


def test_password_grant(http):
    body = assert_token_response(flows.password_grant(http, "alice", scope="mcp:read mcp:tools"))
    assert set(body["scope"].split()) == {"mcp:read", "mcp:tools"}
    assert body["refresh_token"]


def test_password_grant_narrows_to_the_users_roles(http):
    body = assert_token_response(flows.password_grant(http, "guest", scope="mcp:read mcp:tools"))
    assert body["scope"] == "mcp:read"


def test_password_grant_with_a_wrong_password(http):
    assert_oauth_error(flows.password_grant(http, "bob", password="not-bobs-password"), "invalid_grant")


def test_password_grant_locks_out_a_username_after_repeated_failures(http):
    username = "nobody-by-this-name"  # a user of its own: the lockout lasts minutes
    for _ in range(5):
        assert_oauth_error(flows.password_grant(http, username, password="guess"), "invalid_grant")
    response = flows.password_grant(http, username, password="guess")
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"] == "temporarily_unavailable"


@pytest.mark.parametrize(
    ("data", "headers", "error", "status"),
    [
        pytest.param(
            {"grant_type": "client_credentials"},
            flows.basic("demo-service", "wrong"),
            "invalid_client",
            401,
            id="wrong-secret",
        ),
        pytest.param(
            {"grant_type": "client_credentials"},
            {"Authorization": "Basic %%%not-base64"},
            "invalid_client",
            401,
            id="garbled-basic-header",
        ),
        pytest.param(
            {"grant_type": "client_credentials"},
            flows.basic("no-such-client", "x"),
            "invalid_client",
            401,
            id="unknown-client",
        ),
        pytest.param({"grant_type": "client_credentials"}, {}, "invalid_client", 401, id="no-client-auth"),
        pytest.param(
            {"grant_type": "urn:example:nonsense"},
            flows.basic(*flows.SERVICE),
            "unsupported_grant_type",
            400,
            id="unknown-grant",
        ),
        pytest.param(
            {"scope": "mcp:read"},
            flows.basic(*flows.SERVICE),
            "unsupported_grant_type",
            400,
            id="no-grant-type",
        ),
        pytest.param(
            {"grant_type": "client_credentials", "scope": "no:such-scope"},
            flows.basic(*flows.SERVICE),
            "invalid_scope",
            400,
            id="unknown-scope",
        ),
        pytest.param(
            {"grant_type": "client_credentials", "resource": "https://elsewhere.example/mcp"},
            flows.basic(*flows.SERVICE),
            "invalid_target",
            400,
            id="foreign-resource",
        ),
        pytest.param(
            {"grant_type": "password", "client_id": flows.CLI_CLIENT, "username": "alice"},
            {},
            "invalid_request",
            400,
            id="password-missing",
        ),
        pytest.param(
            {
                "grant_type": "authorization_code",
                "client_id": flows.WEB_CLIENT,
                "code": "bogus",
                "redirect_uri": flows.WEB_REDIRECT,
                "code_verifier": "x" * 43,
            },
            {},
            "invalid_grant",
            400,
            id="unknown-code",
        ),
        pytest.param(
            {"grant_type": "refresh_token", "client_id": flows.WEB_CLIENT, "refresh_token": "bogus"},
            {},
            "invalid_grant",
            400,
            id="unknown-refresh-token",
        ),
    ],
)
def test_bad_token_requests_get_rfc6749_errors(http, data, headers, error, status):
    assert_oauth_error(http.post(flows.TOKEN, data=data, headers=headers), error, status)


def test_wrong_content_type_gets_invalid_request(http):
    response = http.post(
        flows.TOKEN, json={"grant_type": "client_credentials"}, headers=flows.basic(*flows.SERVICE)
    )
    assert_oauth_error(response, "invalid_request")


def test_get_is_not_a_token_request(http):
    response = http.get(flows.TOKEN, params={"grant_type": "client_credentials"})
    assert_oauth_error(response, "invalid_request", 405)
    assert "POST" in response.headers["allow"]


def test_oversized_body_gets_an_oauth_error(http):
    body = "grant_type=client_credentials&scope=" + "a" * (2 * 1024 * 1024)
    response = http.post(
        flows.TOKEN,
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **flows.basic(*flows.SERVICE)},
    )
    assert response.status_code in {400, 413}, response.text[:500]
    assert response.headers["content-type"].startswith("application/json"), response.headers
    assert response.json()["error"] == "invalid_request"


def test_forty_parallel_token_requests_all_succeed(live_server):
    """SQLite in WAL mode with immediate transactions: concurrent writers wait, never fail."""
    offset = live_server.log_size()
    limits = httpx.Limits(max_connections=40, max_keepalive_connections=40)
    with (
        httpx.Client(base_url=live_server.url, timeout=60, limits=limits) as http,
        ThreadPoolExecutor(max_workers=40) as pool,
    ):
        responses = list(pool.map(lambda i: flows.client_credentials(http, form_post=bool(i % 2)), range(40)))
    assert [r.status_code for r in responses] == [200] * 40, [
        r.text for r in responses if r.status_code != 200
    ]
    tokens = {r.json()["access_token"] for r in responses}
    assert len(tokens) == 40
    assert "database is locked" not in live_server.log_text(offset)


def test_a_client_changed_from_another_process_stops_working_in_every_worker_at_once(live_server):
    """Every worker keeps the clients it loaded (authserver.clientmemo); a change made elsewhere
    (here: ``manage.py``, its own process) reaches all of them on their next request."""
    command = ["create_client", "--name", "memo", "--grant", "client-credentials", "--scopes", "mcp:read"]
    created = json.loads(live_server.manage(*command, "--json").stdout)
    client_id, secret = created["client_id"], created["client_secret"]

    def statuses(password: str) -> list[int]:
        # A new connection per request, so that every worker answers some of them.
        body = {"grant_type": "client_credentials"}
        url = live_server.url + flows.TOKEN
        return [httpx.post(url, data=body, auth=(client_id, password)).status_code for _ in range(8)]

    assert statuses(secret) == [200] * 8
    change = (
        "from oauth2_provider.models import Application; "
        f"a = Application.objects.get(client_id={client_id!r}); "
        "a.client_secret = 'rotated-secret-0123456789'; a.save()"
    )
    live_server.manage("shell", "-c", change)
    assert statuses(secret) == [401] * 8
    assert statuses("rotated-secret-0123456789") == [200] * 8
    disable = (
        "from oauth2_provider.models import Application; from authserver.clients import set_enabled; "
        f"set_enabled([Application.objects.get(client_id={client_id!r})], False)"
    )
    live_server.manage("shell", "-c", disable)
    assert statuses("rotated-secret-0123456789") == [400] * 8

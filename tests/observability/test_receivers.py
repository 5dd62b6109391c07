"""The other apps' events reach the counters: tokens issued, tool calls, refused credentials."""

import base64
import time

import jwt
import pytest

from mcpserver.exceptions import InsufficientScope, InvalidToken
from observability import reasons

FORM = "application/x-www-form-urlencoded"


def test_a_token_issued_by_the_endpoint_is_counted_by_grant(client, demo, metric):
    before = metric("oauth_tokens_issued_total", grant="client_credentials")
    basic = "Basic " + base64.b64encode(b"demo-service:demo-service-secret").decode()
    for _ in range(2):
        response = client.post(
            "/oauth/token/", "grant_type=client_credentials", content_type=FORM, HTTP_AUTHORIZATION=basic
        )
        assert response.status_code == 200
    assert metric("oauth_tokens_issued_total", grant="client_credentials") == before + 2


def test_password_and_refresh_grants_are_counted(client, demo, metric):
    password_before = metric("oauth_tokens_issued_total", grant="password")
    refresh_before = metric("oauth_tokens_issued_total", grant="refresh_token")
    body = "grant_type=password&client_id=demo-cli&username=alice&password=alice-password&scope=mcp:read"
    response = client.post("/oauth/token/", body, content_type=FORM)
    assert response.status_code == 200, response.content
    refresh = response.json()["refresh_token"]
    response = client.post(
        "/oauth/token/",
        f"grant_type=refresh_token&client_id=demo-cli&refresh_token={refresh}",
        content_type=FORM,
    )
    assert response.status_code == 200, response.content
    assert metric("oauth_tokens_issued_total", grant="password") == password_before + 1
    assert metric("oauth_tokens_issued_total", grant="refresh_token") == refresh_before + 1


@pytest.mark.parametrize(
    ("grant_type", "label"),
    [
        ("urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:device_code"),
        ("made-up", "other"),
    ],
)
def test_grant_labels_come_from_the_grant_table(metric, grant_type, label):
    from django.http import QueryDict

    from observability import receivers

    class Request:
        POST = QueryDict(f"grant_type={grant_type}")

    before = metric("oauth_tokens_issued_total", grant=label)
    receivers.on_token_issued(None, request=Request())
    assert metric("oauth_tokens_issued_total", grant=label) == before + 1


def test_token_endpoint_refusals_are_auth_failures_by_error(client, demo, metric):
    before = metric("auth_failures_total", reason="token_invalid_client")
    basic = "Basic " + base64.b64encode(b"demo-service:wrong").decode()
    response = client.post(
        "/oauth/token/", "grant_type=client_credentials", content_type=FORM, HTTP_AUTHORIZATION=basic
    )
    assert response.status_code == 401
    assert metric("auth_failures_total", reason="token_invalid_client") == before + 1


def test_a_wrong_user_password_is_counted(client, demo, metric):
    before = metric("auth_failures_total", reason="user_credentials")
    body = "grant_type=password&client_id=demo-cli&username=alice&password=wrong"
    assert client.post("/oauth/token/", body, content_type=FORM).status_code == 400
    assert metric("auth_failures_total", reason="user_credentials") == before + 1


def test_tool_calls_are_counted_by_tool_and_outcome(call_tool, service_token, metric):
    ok = metric("mcp_tool_calls_total", tool="echo", outcome="ok")
    invalid = metric("mcp_tool_calls_total", tool="echo", outcome="invalid")
    assert call_tool("echo", {"message": "hi"}, service_token).status_code == 200
    assert call_tool("echo", {"message": "hi"}, service_token).status_code == 200
    call_tool("echo", {"repeat_count": 99}, service_token)
    assert metric("mcp_tool_calls_total", tool="echo", outcome="ok") == ok + 2
    assert metric("mcp_tool_calls_total", tool="echo", outcome="invalid") == invalid + 1


def test_refused_tokens_on_mcp_are_counted_by_reason(client, call_tool, service_token, metric):
    missing = metric("auth_failures_total", reason="missing_token")
    malformed = metric("auth_failures_total", reason="malformed")
    assert call_tool("echo", {"message": "x"}).status_code == 401
    assert call_tool("echo", {"message": "x"}, "not-a-jwt").status_code == 401
    assert metric("auth_failures_total", reason="missing_token") == missing + 1
    assert metric("auth_failures_total", reason="malformed") == malformed + 1

    revoked = metric("auth_failures_total", reason="revoked")
    basic = "Basic " + base64.b64encode(b"demo-service:demo-service-secret").decode()
    response = client.post(
        "/oauth/revoke/", f"token={service_token}", content_type=FORM, HTTP_AUTHORIZATION=basic
    )
    assert response.status_code == 200
    assert call_tool("echo", {"message": "x"}, service_token).status_code == 401
    assert metric("auth_failures_total", reason="revoked") == revoked + 1


def _cause(kind: type[Exception]) -> InvalidToken:
    error = InvalidToken("The access token is invalid.")
    error.__cause__ = kind("x")
    return error


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (InvalidToken("An access token is required.", token_sent=False), "missing_token"),
        (_cause(jwt.ExpiredSignatureError), "expired"),
        (_cause(jwt.InvalidAudienceError), "wrong_audience"),
        (_cause(jwt.InvalidIssuerError), "wrong_issuer"),
        (_cause(jwt.InvalidSignatureError), "bad_signature"),
        (_cause(jwt.DecodeError), "malformed"),
        (InvalidToken("The access token has been revoked."), "revoked"),
        (InvalidToken("The access token was signed by an unknown key."), "unknown_key"),
        (InvalidToken("Something new."), "invalid_token"),
        (InsufficientScope(["mcp:tools"]), "insufficient_scope"),
    ],
)
def test_refusal_reasons(error, reason):
    assert reasons.refusal_reason(error) == reason


def test_reasons_from_the_real_verifier(settings, demo):
    """The labels follow what mcpserver.auth actually raises (its messages are the contract)."""
    from authserver import keys
    from mcpserver import auth

    kid, private_key = keys.current_signing_key()
    now = int(time.time())
    claims = {
        "iss": settings.MCPSERVER["ISSUER"],
        "sub": "1",
        "aud": settings.MCPSERVER["RESOURCE_URL"],
        "iat": now - 100,
    }
    expired = jwt.encode(
        {**claims, "exp": now - 60}, private_key, "RS256", headers={"kid": kid, "typ": "at+jwt"}
    )
    other = jwt.encode(
        {**claims, "exp": now + 60, "aud": "x"}, private_key, "RS256", headers={"kid": kid, "typ": "at+jwt"}
    )
    unknown = jwt.encode(
        {**claims, "exp": now + 60}, private_key, "RS256", headers={"kid": "nope", "typ": "at+jwt"}
    )
    stranger = jwt.encode(
        {**claims, "exp": now + 60, "iss": "https://elsewhere.example"},
        private_key,
        "RS256",
        headers={"kid": kid, "typ": "at+jwt"},
    )
    cases = [
        (expired, "expired"),
        (other, "wrong_audience"),
        (unknown, "unknown_key"),
        (stranger, "wrong_issuer"),
    ]
    for token, reason in cases:
        with pytest.raises(InvalidToken) as caught:
            auth.authenticate(f"Bearer {token}")
        assert reasons.refusal_reason(caught.value) == reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"error": "invalid_grant"}', "token_invalid_grant"),
        (b'{"error": "made_up"}', "token_other"),
        (b"not json", "token_other"),
        (b"[1]", "token_other"),
    ],
)
def test_token_refusal_reasons(body, reason):
    assert reasons.token_refusal_reason(body) == reason

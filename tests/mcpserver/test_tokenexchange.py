"""``ctx.exchange_token`` (``mcpserver.tokenexchange``) without an authorization server: what it refuses
before asking, and how an unreachable or refusing one is reported (the full exchange over HTTP is in
``tests/e2e/test_token_exchange.py``)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from mcpserver import tokenexchange
from mcpserver.auth import AccessToken
from mcpserver.definitions import ToolError
from mcpserver.methods.context import Context
from mcpserver.registry import Registry

CONFIGURED = {
    "TOKEN_EXCHANGE_CLIENT_ID": "mcp-gateway",
    "TOKEN_EXCHANGE_CLIENT_SECRET": "s3cret:with/odd chars",
}


class Issuer(ThreadingHTTPServer):
    """A token endpoint answering ``answer`` (status, body) and keeping what it was sent."""

    daemon_threads = True

    def __init__(self, status: int, body: bytes):
        super().__init__(("127.0.0.1", 0), IssuerHandler)
        self.answer = (status, body)
        self.received: list[tuple[dict, dict]] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}/oauth/token/"


class IssuerHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        length = int(self.headers["Content-Length"])
        form = parse_qs(self.rfile.read(length).decode())
        self.server.received.append((dict(self.headers), form))
        status, body = self.server.answer
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def issuer(request, settings):
    status, body = getattr(request, "param", (200, b"{}"))
    server = Issuer(status, body)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.MCPSERVER = {**getattr(settings, "MCPSERVER", {}), **CONFIGURED, "TOKEN_EXCHANGE_ENDPOINT": server.url}
    yield server
    server.shutdown()
    server.server_close()


def context(raw_token: str | None) -> Context:
    token = AccessToken(
        digest="d", subject="1", client_id="c", username="alice", scopes=frozenset({"mcp:tools"}),
        roles=frozenset(), expires_at=0,
    )  # fmt: skip
    return Context(token=token, registry=Registry(), era="modern", version="2026-07-28",
                   authorization=raw_token and f"Bearer {raw_token}")


GRANTED = json.dumps(
    {"access_token": "new.jwt.value", "token_type": "Bearer", "expires_in": 60, "scope": "files:read",
     "issued_token_type": tokenexchange.ACCESS_TOKEN_TYPE}
).encode()  # fmt: skip


@pytest.mark.parametrize("issuer", [(200, GRANTED)], indirect=True)
def test_the_callers_token_is_exchanged_with_the_servers_client_credentials(issuer):
    token = context("caller.jwt.value").exchange_token("https://files.example/", scope=["files:read"])
    assert token.authorization == "Bearer new.jwt.value"
    assert (token.expires_in, token.scopes) == (60, frozenset({"files:read"}))
    assert "new.jwt.value" not in repr(token)
    headers, form = issuer.received[0]
    assert form == {
        "grant_type": [tokenexchange.GRANT_TYPE],
        "subject_token": ["caller.jwt.value"],
        "subject_token_type": [tokenexchange.ACCESS_TOKEN_TYPE],
        "audience": ["https://files.example/"],
        "scope": ["files:read"],
    }
    from tests.authserver.conftest import basic

    assert headers["Authorization"] == basic(*CONFIGURED.values())


def test_the_raw_token_is_not_in_the_contexts_repr():
    assert "caller.jwt.value" not in repr(context("caller.jwt.value"))


REFUSAL = json.dumps({"error": "invalid_target", "error_description": "Not for that API."}).encode()


@pytest.mark.parametrize("issuer", [(400, REFUSAL)], indirect=True)
def test_a_refusal_is_a_tool_error_with_the_issuers_reason(issuer):
    with pytest.raises(tokenexchange.TokenExchangeFailed) as failed:
        context("caller.jwt.value").exchange_token("https://files.example/")
    assert isinstance(failed.value, ToolError)
    assert failed.value.error == "invalid_target"
    assert "Not for that API." in str(failed.value) and "caller.jwt.value" not in str(failed.value)


@pytest.mark.parametrize("issuer", [(502, b"<html>bad gateway</html>"), (200, b"[1, 2]")], indirect=True)
def test_an_answer_that_is_no_token_is_a_tool_error(issuer):
    with pytest.raises(tokenexchange.TokenExchangeFailed):
        context("caller.jwt.value").exchange_token("https://files.example/")


def test_an_unreachable_issuer_is_temporarily_unavailable(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    settings.MCPSERVER = {**CONFIGURED, "TOKEN_EXCHANGE_ENDPOINT": f"http://127.0.0.1:{port}/oauth/token/"}
    with pytest.raises(tokenexchange.TokenExchangeFailed) as failed:
        context("caller.jwt.value").exchange_token("https://files.example/")
    assert failed.value.error == "temporarily_unavailable"


def test_without_client_credentials_nothing_is_sent(settings):
    settings.MCPSERVER = {"TOKEN_EXCHANGE_CLIENT_ID": None, "TOKEN_EXCHANGE_ENDPOINT": "http://127.0.0.1:9/"}
    with pytest.raises(tokenexchange.TokenExchangeFailed) as failed:
        context("caller.jwt.value").exchange_token("https://files.example/")
    assert failed.value.error == "server_error" and "client credentials" in str(failed.value)


@pytest.mark.parametrize("raw_token, audience", [(None, "https://files.example/"), ("caller.jwt.value", None)])
def test_without_a_token_or_a_target_nothing_is_sent(settings, raw_token, audience):
    settings.MCPSERVER = {**CONFIGURED, "TOKEN_EXCHANGE_ENDPOINT": "http://127.0.0.1:9/"}
    with pytest.raises(tokenexchange.TokenExchangeFailed) as failed:
        context(raw_token).exchange_token(audience)
    assert failed.value.error == "invalid_request"


def test_no_time_left_is_temporarily_unavailable(settings):
    settings.MCPSERVER = {**CONFIGURED, "TOKEN_EXCHANGE_ENDPOINT": "http://127.0.0.1:9/"}
    with pytest.raises(tokenexchange.TokenExchangeFailed) as failed:
        tokenexchange.exchange("caller.jwt.value", audience="https://files.example/", timeout=0)
    assert failed.value.error == "temporarily_unavailable"

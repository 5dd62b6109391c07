"""/mcp through config.wsgi: its own handler, without the middleware only browser pages use."""

from __future__ import annotations

import json

import pytest

from tests.helpers import granian_environ, keep_test_transaction

pytestmark = pytest.mark.django_db

CALL = {
    "jsonrpc": "2.0",
    "id": 7,
    "method": "tools/call",
    "params": {"name": "echo", "arguments": {"message": "hi"}},
}


@pytest.fixture(autouse=True)
def _requests_keep_the_test_transaction():
    with keep_test_transaction():
        yield


def call(
    path: str,
    method: str = "GET",
    body: bytes = b"",
    headers: dict | None = None,
    content_type="",
    application=None,
    **where,
):
    """Call config.wsgi.application (or ``application``) as the server would; return (status, headers,
    body)."""
    if application is None:
        from config.wsgi import application

    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"], started["headers"] = status, response_headers

    content_type = content_type or ("application/json" if body else "")
    chunks = application(granian_environ(method, path, body, content_type, headers, **where), start_response)
    headers = {}
    for name, value in started["headers"]:
        headers.setdefault(name.lower(), []).append(value)
    return int(started["status"].split()[0]), headers, b"".join(chunks)


def test_a_tool_call_is_answered_with_the_api_middleware_only(token):
    status, headers, body = call(
        "/mcp",
        "POST",
        json.dumps(CALL).encode(),
        {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-11-25",
        },
    )
    assert status == 200, body
    assert json.loads(body)["result"]["content"][0]["text"] == "hi"
    # Kept: the request id and access line, the security headers, the clickjacking header.
    assert headers["x-request-id"] and headers["x-content-type-options"] == ["nosniff"]
    assert headers["x-frame-options"] == ["DENY"]
    # Left out: nothing of a session or a CSRF cookie, nor the Vary: Cookie they add.
    assert "set-cookie" not in headers
    assert "Cookie" not in ", ".join(headers.get("vary", []))


def test_an_unauthenticated_call_still_gets_its_challenge(token):
    status, headers, _ = call("/mcp", "POST", json.dumps(CALL).encode(), {"Accept": "application/json"})
    assert status == 401
    challenge = headers["www-authenticate"][0]
    assert challenge.startswith("Bearer ") and "resource_metadata=" in challenge


def test_bad_input_on_the_api_handler_gets_its_own_error_not_a_500(token):
    auth = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    # A Host outside ALLOWED_HOSTS: still refused (CommonMiddleware stays in the API's list).
    status, _, _ = call("/mcp", "POST", json.dumps(CALL).encode(), auth, host="evil.example")
    assert status == 400
    # A body that is not JSON: a JSON-RPC parse error.
    status, _, body = call("/mcp", "POST", b"{not json", {**auth, "MCP-Protocol-Version": "2025-11-25"})
    assert status == 400 and json.loads(body)["error"]["code"] == -32700


def test_pages_keep_the_whole_middleware_list():
    status, headers, body = call("/accounts/login/")
    assert status == 200
    assert any(cookie.strip().startswith("csrftoken=") for cookie in headers["set-cookie"])
    # And CSRF is enforced there: a login form posted without its token is refused.
    status, _, _ = call(
        "/accounts/login/",
        "POST",
        b"username=a&password=b",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 403


class Stamp:
    """A middleware that marks the responses it saw (to tell which list a request went through)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response["X-Stamp"] = "seen"
        return response


STAMP = f"{__name__}.Stamp"


@pytest.fixture
def build(monkeypatch):
    """``config.wsgi.build`` for the current settings; Django is set up already (setting it up again
    would reconfigure this process's logging)."""
    from django.core.handlers.wsgi import WSGIHandler

    import config.wsgi

    monkeypatch.setattr(config.wsgi, "get_wsgi_application", WSGIHandler)
    return config.wsgi.build


def test_only_the_mcp_path_runs_the_api_list_and_the_setting_is_left_alone(build, settings, token):
    """``build`` routes exactly /mcp through ``MCP_MIDDLEWARE``; every other path, /mcp/ included,
    through ``MIDDLEWARE``, which loading the API's list leaves as it was."""
    settings.MCP_MIDDLEWARE = [*settings.MCP_MIDDLEWARE, STAMP]
    full = list(settings.MIDDLEWARE)
    application = build()
    assert settings.MIDDLEWARE == full

    auth = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    status, headers, _ = call("/mcp", "POST", json.dumps(CALL).encode(), auth, application=application)
    assert status == 200 and headers["x-stamp"] == ["seen"]
    assert "set-cookie" not in headers  # no session or CSRF middleware on the API's list
    _, headers, _ = call("/mcp/", "POST", json.dumps(CALL).encode(), auth, application=application)
    assert "x-stamp" not in headers
    status, headers, _ = call("/accounts/login/", application=application)
    assert status == 200 and "x-stamp" not in headers
    assert any(cookie.strip().startswith("csrftoken=") for cookie in headers["set-cookie"])
    # What the API's list must keep (request ids and access lines; outages answered as 503s).
    assert "observability.middleware.ObservabilityMiddleware" in settings.MCP_MIDDLEWARE
    assert "authserver.outages.OutageMiddleware" in settings.MCP_MIDDLEWARE


def test_without_an_api_list_every_path_runs_the_full_list(build, settings, token):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, STAMP]
    settings.MCP_MIDDLEWARE = None
    application = build()
    auth = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    _, headers, _ = call("/mcp", "POST", json.dumps(CALL).encode(), auth, application=application)
    assert headers["x-stamp"] == ["seen"]
    _, headers, _ = call("/accounts/login/", application=application)
    assert headers["x-stamp"] == ["seen"]


def test_a_tool_call_leaves_no_reference_cycle_for_the_garbage_collector(token):
    """Every object of a request (the view, the request, its environ) is freed as soon as the response
    goes out. Django's ``View.setup`` stores ``self.head = self.get`` on a view without ``head``: a
    cycle (view -> bound method -> view) that kept each request alive until a collection found it,
    one per ~40 calls under load. Other threads may leave unrelated cycles meanwhile (a new Redis
    connection reads the client library's version through importlib.metadata): only the request's
    own objects are looked for."""
    import gc

    from django.http import HttpRequest, HttpResponseBase
    from django.views import View

    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    body = json.dumps(CALL).encode()
    assert call("/mcp", "POST", body, headers)[0] == 200  # warm-up: first verification, lazy imports
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds is kept in gc.garbage for inspection
    try:
        for _ in range(5):
            assert call("/mcp", "POST", body, headers)[0] == 200
        assert call("/mcp", "GET", headers=headers)[0] == 405
        gc.collect()
        left = [type(obj) for obj in gc.garbage if isinstance(obj, HttpRequest | HttpResponseBase | View)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []

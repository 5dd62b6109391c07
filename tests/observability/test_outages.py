"""One list of outage exceptions: both apps answer each with a 503 in their own shape, and nothing else."""

from __future__ import annotations

import pytest
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from authserver.views import wellknown
from mcpserver import auth as mcpserver_auth
from observability.outages import OUTAGES
from tests.wsgiclient import WsgiClient

pytestmark = pytest.mark.django_db

UNREACHABLE = [
    OperationalError("could not connect to server"),
    InterfaceError("connection already closed"),
    TimeoutError("timed out"),
    RedisConnectionError("Connection refused"),
    RedisTimeoutError("Timeout reading from socket"),
]
BUGS = [ValueError("a bug"), ConnectionError("unexpected reply")]  # the latter: retried, not an outage


def _raise(exc):
    def raising(*args, **kwargs):
        raise exc

    return raising


def _oauth_side(monkeypatch, exc):
    """A JSON endpoint of the authorization server (its outage middleware, then handler500)."""
    monkeypatch.setattr(wellknown.JwksView, "get", _raise(exc))
    return WsgiClient(raise_request_exception=False).get("/.well-known/jwks.json")


def _mcp_side(monkeypatch, exc):
    """``/mcp`` (its own mapping of unexpected exceptions)."""
    monkeypatch.setattr(mcpserver_auth, "authenticate", _raise(exc))
    return WsgiClient().post("/mcp", "{}", content_type="application/json")


def test_the_list_is_exactly_what_an_unreachable_backing_service_raises():
    assert {type(exc) for exc in UNREACHABLE} == set(OUTAGES)


@pytest.mark.parametrize("exc", UNREACHABLE, ids=lambda exc: type(exc).__name__)
@pytest.mark.parametrize("side", [_oauth_side, _mcp_side], ids=["authserver", "mcpserver"])
def test_both_apps_answer_every_outage_with_503(side, exc, monkeypatch):
    response = side(monkeypatch, exc)
    assert response.status_code == 503, response.content
    assert int(response["Retry-After"]) > 0
    assert str(exc).encode() not in response.content


@pytest.mark.parametrize("exc", BUGS, ids=lambda exc: type(exc).__name__)
@pytest.mark.parametrize("side", [_oauth_side, _mcp_side], ids=["authserver", "mcpserver"])
def test_anything_else_is_a_500_on_both(side, exc, monkeypatch):
    response = side(monkeypatch, exc)
    assert response.status_code == 500
    assert "Retry-After" not in response

"""Fixtures for the operational endpoints: metric deltas, a demo token, an MCP call."""

from __future__ import annotations

import base64

import pytest
from prometheus_client import REGISTRY

BASIC = "Basic " + base64.b64encode(b"demo-service:demo-service-secret").decode()


@pytest.fixture(autouse=True)
def quiet_audit(settings):
    """Audit records wait for an explicit flush (no writer thread against the test database)."""
    from mcpserver import auth
    from mcpserver.audit import buffer as audit_buffer

    settings.MCPSERVER = {**settings.MCPSERVER, "AUDIT_BACKGROUND": False}
    auth.reset()
    audit_buffer._buffer.clear()
    yield
    audit_buffer._buffer.clear()
    auth.reset()


@pytest.fixture
def client(wsgi_client):
    """Every in-process request of these tests goes through the production WSGI application."""
    return wsgi_client


@pytest.fixture
def metric():
    """Factory: the current value of one sample (0 when it was never set), for before/after deltas."""

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    return value


@pytest.fixture
def service_token(client, demo):
    response = client.post(
        "/oauth/token/",
        "grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=BASIC,
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


@pytest.fixture
def call_tool(client):
    """Factory: POST a tools/call to /mcp (2025-11-25 era) and return the response."""

    def call(name: str, arguments: dict, token: str | None = None, **extra: str):
        headers = {
            "HTTP_ACCEPT": "application/json, text/event-stream",
            "HTTP_MCP_PROTOCOL_VERSION": "2025-11-25",
        }
        if token is not None:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        }
        return client.post("/mcp", body, content_type="application/json", **headers, **extra)

    return call

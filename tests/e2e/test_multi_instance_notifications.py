"""Notifications cross instances: a note changed through instance A reaches the GET stream a client
holds on instance B, and a client that reconnects (to either instance) with ``Last-Event-ID`` gets
what it missed.

Two server processes of one deployment (one PostgreSQL database, one Redis, one secret key), as in
``test_multi_instance``; Redis from ``E2E_NOTIFICATIONS_REDIS_URL`` (database 12 of the local server by
default), PostgreSQL from ``E2E_DATABASE_URL`` (a database named after it with ``_notifications``).
Skipped, naming what is missing, when either is unreachable.
"""

from __future__ import annotations

import json
import os

import httpx
import pytest

from tests import workers

from . import pairs
from .liveserver import LiveServer

pytestmark = pytest.mark.slow  # two servers of its own

VERSION = "2025-11-25"
SCOPES = ["mcp:read", "mcp:tools"]


@pytest.fixture(scope="module")
def pair(request):
    database = pairs.database_url("notifications")
    redis = os.environ.get("E2E_NOTIFICATIONS_REDIS_URL") or workers.redis_url("redis://127.0.0.1:6379/12")
    pairs.skip_unless_reachable(database, redis)
    first = LiveServer(database_url=database, redis_url=redis, workers=1, env={"LOG_FORMAT": "text"})
    with pairs.running(first, request) as both:
        yield both


class Session:
    """A 2025 session of alice's, opened on one instance and usable on any."""

    def __init__(self, server: LiveServer, token: str) -> None:
        self.token, self.counter = token, 0
        response = self.post(server, "initialize", {
            "protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "e2e", "version": "1"},
        })  # fmt: skip
        self.id = response.headers["mcp-session-id"]

    def headers(self, **extra: str) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}", "MCP-Protocol-Version": VERSION, **extra}
        if getattr(self, "id", None):
            headers["Mcp-Session-Id"] = self.id
        return headers

    def post(self, server: LiveServer, method: str, params: dict) -> httpx.Response:
        self.counter += 1
        body = {"jsonrpc": "2.0", "id": self.counter, "method": method, "params": params}
        response = httpx.post(
            server.mcp_url,
            json=body,
            headers=self.headers(Accept="application/json, text/event-stream"),
            timeout=10,
        )
        assert response.status_code == 200 and "result" in response.json(), response.text
        return response

    def call(self, server: LiveServer, tool: str, **arguments) -> dict:
        result = self.post(server, "tools/call", {"name": tool, "arguments": arguments}).json()["result"]
        assert not result.get("isError"), result
        return result["structuredContent"]

    def stream(self, server: LiveServer, last_event_id: str | None = None):
        headers = self.headers(Accept="text/event-stream")
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        return httpx.stream("GET", server.mcp_url, headers=headers, timeout=10)


def events(response: httpx.Response):
    """The SSE events of a response as dicts of their fields (comments skipped)."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if not line:
            if fields:
                yield fields
            fields = {}
            continue
        name, _, value = line.partition(":")
        fields[name] = value.removeprefix(" ")


def test_a_note_changed_through_a_reaches_a_stream_on_b_and_resumption_works_anywhere(pair):
    a, b = pair
    session = Session(a, a.issue_token("alice", SCOPES))
    note = session.call(a, "create_note", title="watched", body="v1")
    uri = f"notes://{note['key']}"
    session.post(b, "resources/subscribe", {"uri": uri})  # the session lives in the shared state

    with session.stream(b) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        read = events(response)
        priming = next(read)
        assert priming["data"] == "" and priming["id"]
        session.call(a, "edit_note", key=note["key"], body="v2")
        update = next(read)
    assert json.loads(update["data"]) == {
        "jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": uri},
    }  # fmt: skip
    assert update["id"] != priming["id"]

    # Away from the stream: two more changes, through B this time.
    session.call(b, "edit_note", key=note["key"], body="v3")
    session.call(b, "edit_note", key=note["key"], title="renamed")
    with session.stream(a, last_event_id=update["id"]) as response:
        read = events(response)
        assert next(read)["id"] == update["id"]  # resumes where the client was
        missed = [next(read), next(read)]
    assert [json.loads(event["data"])["params"]["uri"] for event in missed] == [uri, uri]
    assert missed[0]["id"] != missed[1]["id"]

    # A bad Last-Event-ID is the client's error, on every instance.
    for server in (a, b):
        with session.stream(server, last_event_id="not-an-event") as response:
            assert response.status_code == 400
    for server in (a, b):
        assert server.errors_since(0) == []

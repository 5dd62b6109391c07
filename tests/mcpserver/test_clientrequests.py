"""Requests from the server to the client during a 2025 ``tools/call``: sent on the call's SSE stream,
answered by a POST that any worker accepts and routes to the waiting call, with capability checks,
timeouts and cancellation. Served in-process by the production WSGI application; the tools are test
fixtures calling ``clientrequests.ask`` directly."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.apps import apps

from mcpserver import audit
from mcpserver.registry import ClientRequestError, Progress, Registry, tool
from mcpserver.transport import clientrequests, interactive
from mcpserver.transport.clientrequests import ask
from tests.helpers import committed

from .conftest import McpClient

# The call runs in a thread of its own, whose connection must see what the test wrote.
pytestmark = committed

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
finished = threading.Event()  # set by the fixture tools when they end, however they end


@tool("ask_name")
def ask_name(ctx, timeout: float = 10.0):
    try:
        params = {"message": "Your name?", "requestedSchema": SCHEMA}
        answer = ask(ctx, "elicitation/create", params, timeout)
        return f"{answer['action']}: {answer.get('content')}"
    except ClientRequestError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        finished.set()


@tool("sample_between_steps")
def sample_between_steps(ctx):
    yield Progress(1, 2)
    params = {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}], "maxTokens": 5}
    answer = ask(ctx, "sampling/createMessage", params, 10)
    yield Progress(2, 2)
    return answer["content"]["text"]


@tool("plain")
def plain(ctx):
    return "no questions"


@tool("ask_unhandled")
def ask_unhandled(ctx):
    try:
        return ask(ctx, "roots/list", {}, 10)
    finally:
        finished.set()


@pytest.fixture(autouse=True)
def fixture_tools():
    app = apps.get_app_config("mcpserver")
    original = app.registry
    tools = (ask_name, sample_between_steps, plain, ask_unhandled)
    app.registry = Registry([function.__mcp__ for function in tools])
    finished.clear()
    yield
    app.registry = original


class Session:
    """A 2025-11-25 session of ``mcp``'s caller, with the given client capabilities."""

    def __init__(self, mcp, capabilities: dict):
        self.mcp = mcp
        response = mcp.legacy(
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": capabilities, "clientInfo": {"name": "t"}},
            headers={"MCP-Protocol-Version": None},
        )
        assert response.status_code == 200
        self.id = response["Mcp-Session-Id"]

    def call(self, name: str, arguments: dict | None = None, meta: dict | None = None, **headers):
        params = {"name": name, "arguments": arguments or {}, **({"_meta": meta} if meta else {})}
        return self.mcp.legacy("tools/call", params, headers={"Mcp-Session-Id": self.id, **headers})

    def answer(self, request_id, result=None, error=None, token=None):
        body = {"jsonrpc": "2.0", "id": request_id}
        body.update({"error": error} if error is not None else {"result": result})
        headers = {"Mcp-Session-Id": self.id, "MCP-Protocol-Version": "2025-11-25"}
        return self.mcp.raw(body, headers, token=token)


class Events:
    """The JSON-RPC messages of an SSE response, read one at a time as the server writes them."""

    def __init__(self, response):
        assert response["Content-Type"] == "text/event-stream"
        self.response, self.chunks, self.comments = response, iter(response.streaming_content), 0

    def next(self) -> dict:
        for chunk in self.chunks:
            if chunk.startswith(b":"):
                self.comments += 1
                continue
            (data,) = [line for line in chunk.decode().splitlines() if line.startswith("data: ")]
            return json.loads(data[len("data: ") :])
        raise AssertionError("the stream ended")

    def rest(self) -> list[dict]:
        found = []
        while True:
            try:
                found.append(self.next())
            except AssertionError:
                return found


def outcome(name: str) -> str:
    from mcpserver.models import AuditRecord

    audit.flush()
    return AuditRecord.objects.get(name=name).outcome


def test_an_elicitation_travels_on_the_calls_stream_and_its_answer_comes_back_by_post(mcp):
    session = Session(mcp, {"elicitation": {}})
    events = Events(session.call("ask_name"))
    request = events.next()
    assert request["method"] == "elicitation/create"
    assert request["params"] == {"message": "Your name?", "requestedSchema": SCHEMA}
    assert isinstance(request["id"], str) and request["id"].startswith(clientrequests.ID_PREFIX)
    accepted = session.answer(request["id"], {"action": "accept", "content": {"name": "Ada"}})
    assert accepted.status_code == 202 and accepted.content == b""
    (response,) = events.rest()
    assert response["id"] == mcp.counter  # the tools/call's own id
    assert response["result"]["content"][0]["text"] == "accept: {'name': 'Ada'}"
    assert outcome("ask_name") == "ok"


def test_a_generator_tool_asks_between_its_steps_and_everything_arrives_in_order(mcp):
    session = Session(mcp, {"sampling": {}})
    events = Events(session.call("sample_between_steps", meta={"progressToken": "p"}))
    progress, request = events.next(), events.next()
    assert progress["method"] == "notifications/progress" and progress["params"]["progress"] == 1
    assert request["method"] == "sampling/createMessage" and request["params"]["maxTokens"] == 5
    answer = {"role": "assistant", "content": {"type": "text", "text": "sampled"}, "model": "m"}
    assert session.answer(request["id"], answer).status_code == 202
    progress, response = events.rest()
    assert progress["params"]["progress"] == 2
    assert response["result"]["content"][0]["text"] == "sampled"


def test_a_call_that_asks_nothing_is_answered_with_json(mcp):
    session = Session(mcp, {"elicitation": {}})
    response = session.call("plain")
    assert response["Content-Type"] == "application/json"
    assert response.json()["result"]["content"][0]["text"] == "no questions"


def test_a_request_needs_the_capability_the_client_declared(mcp):
    session = Session(mcp, {"sampling": {}})
    text = session.call("ask_name").json()["result"]["content"][0]["text"]
    assert text.startswith("ClientCapabilityMissing: The client did not declare the elicitation capability")
    bare = Session(mcp, {})
    text = bare.call("ask_name").json()["result"]["content"][0]["text"]
    assert text.startswith("ClientCapabilityMissing")
    url_only = Session(mcp, {"elicitation": {"url": {}}})
    text = url_only.call("ask_name").json()["result"]["content"][0]["text"]
    assert text == "ClientCapabilityMissing: The client does not take form elicitations"


def test_without_a_stream_to_send_on_the_tool_is_told_the_client_is_unreachable(mcp):
    session = Session(mcp, {"elicitation": {}})
    json_only = session.call("ask_name", Accept="application/json")
    assert json_only.json()["result"]["content"][0]["text"].startswith(
        "ClientUnreachable: This call has no stream"
    )
    modern = mcp.modern(
        "tools/call",
        {"name": "ask_name"},
        meta={"io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}},
    )
    assert modern.json()["result"]["content"][0]["text"].startswith("ClientUnreachable")


def test_an_answer_from_another_caller_is_refused_and_the_call_still_gets_its_own(mcp, issue):
    session = Session(mcp, {"elicitation": {}})
    events = Events(session.call("ask_name"))
    request = events.next()
    stranger = session.answer(request["id"], {"action": "accept", "content": {"name": "Eve"}}, token=issue())
    assert stranger.status_code == 404
    assert stranger.json()["error"]["code"] == -32001
    assert session.answer(request["id"], {"action": "decline"}).status_code == 202
    assert events.rest()[-1]["result"]["content"][0]["text"] == "decline: None"


def test_a_clients_error_reaches_the_tool_as_refused(mcp):
    session = Session(mcp, {"roots": {}})
    events = Events(session.call("ask_unhandled"))
    request = events.next()
    assert request["method"] == "roots/list" and request["params"] == {}
    error = {"code": -32601, "message": "Method not found"}
    assert session.answer(request["id"], error=error).status_code == 202
    result = events.rest()[-1]["result"]
    assert result["isError"] is True
    assert result["content"][0]["text"] == "The client refused roots/list: Method not found"


def test_an_unanswered_request_times_out_with_a_cancellation_sent_to_the_client(mcp):
    session = Session(mcp, {"elicitation": {}})
    started = time.monotonic()
    events = Events(session.call("ask_name", {"timeout": 0.3}))
    request = events.next()
    cancelled, response = events.rest()
    assert time.monotonic() - started < 2
    assert cancelled["method"] == "notifications/cancelled"
    assert cancelled["params"]["requestId"] == request["id"]
    assert (
        response["result"]["content"][0]["text"]
        == "ClientTimeout: The client did not answer elicitation/create within 0.3 s"
    )
    late = session.answer(request["id"], {"action": "accept", "content": {"name": "late"}})
    assert late.status_code == 202  # accepted and dropped: nobody waits for it


def test_a_client_that_leaves_cancels_the_waiting_call_at_once(mcp):
    session = Session(mcp, {"roots": {}})
    response = session.call("ask_unhandled")
    Events(response).next()
    left = time.monotonic()
    response.close()  # as the server does when the client goes away
    assert finished.wait(2), "the tool still waits for an answer"
    assert time.monotonic() - left < 1
    deadline = time.monotonic() + 2
    while True:  # the tool's own thread records the outcome as it ends
        try:
            assert outcome("ask_unhandled") == "cancelled"
            break
        except Exception:
            assert time.monotonic() < deadline
            time.sleep(0.02)


def test_a_stream_waiting_for_an_answer_writes_keepalive_comments(mcp, monkeypatch):
    monkeypatch.setattr(interactive, "KEEPALIVE_SECONDS", 0.05)
    session = Session(mcp, {"elicitation": {}})
    events = Events(session.call("ask_name", {"timeout": 0.5}))
    events.next()
    events.rest()
    assert events.comments >= 3


@pytest.mark.parametrize(
    "body",
    [
        {"jsonrpc": "2.0", "id": "mcp-srv-x", "result": 5},
        {"jsonrpc": "2.0", "id": "mcp-srv-x", "error": "no"},
        {"jsonrpc": "2.0", "id": "mcp-srv-x", "error": {"message": "no code"}},
    ],
)
def test_a_malformed_answer_is_400(mcp, body):
    session = Session(mcp, {"elicitation": {}})
    response = mcp.raw(body, {"Mcp-Session-Id": session.id, "MCP-Protocol-Version": "2025-11-25"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32600


def test_the_session_keeps_only_what_the_server_may_ask_of_the_client(mcp):
    from mcpserver import sessions

    declared = {"elicitation": {"form": {}}, "sampling": {"big": "x" * 2000}, "experimental": {"a": {}}}
    session = Session(mcp, declared)
    state = sessions.load(
        session.id, __import__("mcpserver.auth", fromlist=["x"]).authenticate(f"Bearer {mcp.token}")
    )
    assert state["capabilities"] == {"elicitation": {"form": {}}, "sampling": {}}


def test_a_call_refused_before_it_starts_is_answered_as_any_call(mcp, issue):
    """The refusals raised in the call's thread reach the one error mapping of the request's thread."""
    session = Session(mcp, {"elicitation": {}})
    unknown = session.call("no_such_tool")
    assert unknown.status_code == 200 and unknown.json()["error"]["code"] == -32602
    reader = McpClient(mcp.client, issue(scopes=["mcp:read"]))
    limited = Session(reader, {"elicitation": {}})
    refused = limited.call("plain")
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused["WWW-Authenticate"]

"""Resource subscriptions and the 2025 GET stream of a session's notifications, through the production
WSGI application: subscribe, a note saved, the update on the stream with its event id, resumption with
``Last-Event-ID``, tool list changes from an admin's tool policy, and the stream's limits."""

from __future__ import annotations

import json
import time

import pytest

from mcpserver import notifications
from tests.mcpserver.conftest import CAPS_KEY, MODERN, PV_KEY, McpClient

SSE = "text/event-stream"


@pytest.fixture
def session(mcp):
    return mcp.initialize()["Mcp-Session-Id"]


def _call(mcp, session, method, params=None):
    return mcp.legacy(method, params, headers={"Mcp-Session-Id": session})


def _open(mcp, session, last_event_id=None, accept=SSE, **headers):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {mcp.token}", "HTTP_ACCEPT": accept}
    if session is not None:
        extra["HTTP_MCP_SESSION_ID"] = session
    if last_event_id is not None:
        extra["HTTP_LAST_EVENT_ID"] = last_event_id
    extra.update({"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()})
    return mcp.client.get("/mcp", **extra)


class Events:
    """The SSE events of a streamed response, read one at a time (comment lines skipped)."""

    def __init__(self, response):
        self.response, self.chunks = response, iter(response.streaming_content)

    def next(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = next(self.chunks).decode()
            if chunk.startswith(":"):
                continue
            fields = dict(
                line.split(": ", 1) if ": " in line else (line.rstrip(":"), "") for line in chunk.splitlines()
            )
            return fields
        raise AssertionError("no event within the timeout")

    def message(self, timeout=5.0):
        fields = self.next(timeout)
        return fields.get("id"), json.loads(fields["data"])

    def close(self):
        self.response.close()


def _note(make_user, title="first"):
    import uuid

    from notes.models import Note

    return Note.objects.create(owner=make_user(f"writer-{uuid.uuid4().hex[:8]}"), title=title, body="text")


def test_both_eras_offer_resource_subscriptions_and_tool_list_changes(mcp):
    for capabilities in (
        mcp.initialize().json()["result"]["capabilities"],
        mcp.modern("server/discover").json()["result"]["capabilities"],
    ):
        assert capabilities["resources"] == {"subscribe": True, "listChanged": False}
        assert capabilities["tools"] == {"listChanged": True}
        assert capabilities["prompts"] == {"listChanged": False}


def test_subscribe_and_unsubscribe_answer_empty_results(mcp, session):
    assert (
        _call(mcp, session, "resources/subscribe", {"uri": "mcp://server/description"}).json()["result"] == {}
    )
    assert (
        _call(mcp, session, "resources/unsubscribe", {"uri": "mcp://server/description"}).json()["result"]
        == {}
    )
    assert _call(mcp, session, "resources/unsubscribe", {"uri": "notes://never"}).json()["result"] == {}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, -32602),
        ({"uri": 3}, -32602),
        ({"uri": "nothing://here"}, -32602),
        ({"uri": "mcp://tools/"}, -32602),
        ({"uri": "notes://" + "x" * 3000}, -32602),  # a template would match it: too long all the same
    ],
)
def test_a_subscription_to_no_resource_is_invalid_params(mcp, session, params, code):
    body = _call(mcp, session, "resources/subscribe", params).json()
    assert body["error"]["code"] == code


def test_a_subscription_needs_a_session_and_the_read_scope(mcp, session, issue):
    body = mcp.legacy("resources/subscribe", {"uri": "mcp://server/description"}).json()
    assert body["error"]["code"] == -32600
    tools_only = issue(scopes=["mcp:tools"])
    other_session = mcp.initialize(token=tools_only)["Mcp-Session-Id"]
    response = mcp.legacy(
        "resources/subscribe", {"uri": "mcp://server/description"},
        headers={"Mcp-Session-Id": other_session}, token=tools_only,
    )  # fmt: skip
    assert response.status_code == 403
    assert "mcp:read" in response["WWW-Authenticate"]


def test_a_saved_note_reaches_its_subscribers_stream_with_an_event_id(
    mcp, session, make_user, django_capture_on_commit_callbacks
):
    note = _note(make_user)
    other = _note(make_user, "other")
    assert "result" in _call(mcp, session, "resources/subscribe", {"uri": f"notes://{note.key}"}).json()
    response = _open(mcp, session)
    assert response.status_code == 200
    assert response["Content-Type"] == SSE
    events = Events(response)
    priming = events.next()
    assert priming["data"] == "" and priming["retry"] == "1000" and priming["id"]
    with django_capture_on_commit_callbacks(execute=True):
        other.save()  # nobody subscribed to it
        note.title = "changed"
        note.save()
    event_id, message = events.message()
    assert message == {
        "jsonrpc": "2.0",
        "method": "notifications/resources/updated",
        "params": {"uri": f"notes://{note.key}"},
    }
    assert event_id != priming["id"]
    events.close()


def test_a_client_that_reconnects_with_last_event_id_gets_what_it_missed(
    mcp, session, make_user, django_capture_on_commit_callbacks
):
    notes = [_note(make_user, str(n)) for n in range(3)]
    for note in notes:
        _call(mcp, session, "resources/subscribe", {"uri": f"notes://{note.key}"})
    first = Events(_open(mcp, session))
    start = first.next()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        notes[0].save()
    seen, _ = first.message()
    first.close()
    with django_capture_on_commit_callbacks(execute=True):  # while the client is away
        notes[1].save()
        notes[2].save()
    again = Events(_open(mcp, session, last_event_id=seen))
    assert again.next()["id"] == seen  # the priming event names where it resumes
    missed = [again.message()[1]["params"]["uri"] for _ in range(2)]
    assert missed == [f"notes://{notes[1].key}", f"notes://{notes[2].key}"]
    again.close()
    replay = Events(_open(mcp, session, last_event_id=start))
    replay.next()
    assert replay.message()[1]["params"]["uri"] == f"notes://{notes[0].key}"
    replay.close()


def test_an_unsubscribed_uri_is_no_longer_told(mcp, session, make_user, django_capture_on_commit_callbacks):
    kept, dropped = _note(make_user, "kept"), _note(make_user, "dropped")
    for note in (kept, dropped):
        _call(mcp, session, "resources/subscribe", {"uri": f"notes://{note.key}"})
    _call(mcp, session, "resources/unsubscribe", {"uri": f"notes://{dropped.key}"})
    events = Events(_open(mcp, session))
    events.next()
    with django_capture_on_commit_callbacks(execute=True):
        dropped.save()
        kept.save()
    assert events.message()[1]["params"]["uri"] == f"notes://{kept.key}"
    events.close()


def test_a_tool_policy_that_changes_what_the_caller_sees_is_a_tool_list_change(
    mcp, session, django_capture_on_commit_callbacks
):
    from mcpserver.models import ToolPolicy

    names = [tool["name"] for tool in _call(mcp, session, "tools/list").json()["result"]["tools"]]
    events = Events(_open(mcp, session))
    events.next()
    with django_capture_on_commit_callbacks(execute=True):
        ToolPolicy.objects.create(name="no-such-tool", enabled=False)  # nobody's view moves
        ToolPolicy.objects.create(name=names[0], enabled=False)
    assert events.message()[1] == {
        "jsonrpc": "2.0",
        "method": "notifications/tools/list_changed",
        "params": {},
    }
    events.close()


@pytest.mark.parametrize(
    ("session_id", "last_event_id", "status"),
    [(None, None, 400), ("unknown-session", None, 404), ("SESSION", "not-an-id", 400)],
)
def test_a_stream_needs_a_live_session_and_an_event_id_of_ours(
    mcp, session, session_id, last_event_id, status
):
    response = _open(mcp, session if session_id == "SESSION" else session_id, last_event_id)
    assert response.status_code == status
    assert response.json()["error"]["code"] in (-32600, -32001)


def test_get_without_sse_or_in_the_2026_era_is_405(mcp, session):  # (2026-07-28 listens by POST)
    assert _open(mcp, session, accept="application/json").status_code == 405
    assert _open(mcp, session, **{"MCP-Protocol-Version": "2026-07-28"}).status_code == 405


def test_a_stream_ends_after_its_lifetime_and_when_its_session_ends(
    mcp, session, settings, make_user, django_capture_on_commit_callbacks
):
    settings.MCPSERVER = {**settings.MCPSERVER, "NOTIFICATION_STREAM_SECONDS": 1}
    started = time.monotonic()
    body = b"".join(_open(mcp, session).streaming_content)
    assert 0.9 < time.monotonic() - started < 4
    assert body.startswith(b"id: ")
    settings.MCPSERVER = {**settings.MCPSERVER, "NOTIFICATION_STREAM_SECONDS": 30}
    events = Events(_open(mcp, session))
    events.next()
    assert mcp.raw("", headers={"Mcp-Session-Id": session}, method="delete").status_code == 204
    started = time.monotonic()
    with pytest.raises(StopIteration):  # the session ended: the stream ends within a second
        events.next()
    assert time.monotonic() - started < 2.5


def test_a_worker_holds_at_most_max_streams_and_a_caller_at_most_its_share(mcp, session, settings, issue):
    settings.MCPSERVER = {**settings.MCPSERVER, "MAX_STREAMS": 2, "MAX_STREAMS_PER_CALLER": 1}
    first = _open(mcp, session)
    assert first.status_code == 200
    second = _open(mcp, session)
    assert second.status_code == 429 and second["Retry-After"]
    first.close()
    third = _open(mcp, session)
    assert third.status_code == 200
    other = McpClient(mcp.client, issue())
    other_session = other.initialize()["Mcp-Session-Id"]
    second_caller = _open(other, other_session)
    assert second_caller.status_code == 200  # another caller: the worker's second stream
    third.close()
    second_caller.close()
    settings.MCPSERVER = {**settings.MCPSERVER, "MAX_STREAMS": 1}
    held = _open(mcp, session)
    assert held.status_code == 200
    assert _open(other, other_session).status_code == 429  # the worker's one stream is taken
    held.close()
    assert _open(other, other_session).status_code == 200


def test_a_notification_that_cannot_be_published_leaves_the_change_in_place(
    monkeypatch, make_user, django_capture_on_commit_callbacks, caplog
):
    import sharedstate

    def down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(sharedstate, "append", down)
    with django_capture_on_commit_callbacks(execute=True):
        note = _note(make_user)
    assert note.pk is not None
    assert "Could not publish a notification" in caplog.text


def test_lists_changed_names_known_families_only():
    with pytest.raises(ValueError):
        notifications.lists_changed("tools", "widgets")


# --- 2026-07-28: subscriptions/listen ---

SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"


def _listen(mcp, notifications, request_id=7):
    response = mcp.modern("subscriptions/listen", {"notifications": notifications}, request_id=request_id)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == SSE
    return Events(response)


def test_a_listen_stream_acknowledges_what_the_server_agreed_to_first(mcp, make_user):
    note = _note(make_user)
    events = _listen(mcp, {
        "toolsListChanged": True,
        "promptsListChanged": True,  # not sent by this server: left out of the agreement
        "resourceSubscriptions": [f"notes://{note.key}", "nothing://here"],
    })  # fmt: skip
    _, ack = events.message()
    assert ack == {
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": {
            "notifications": {"toolsListChanged": True, "resourceSubscriptions": [f"notes://{note.key}"]},
            "_meta": {SUBSCRIPTION_ID: 7},
        },
    }
    events.close()


def test_a_listen_stream_carries_its_notifications_tagged_with_its_subscription_id(
    mcp, make_user, django_capture_on_commit_callbacks
):
    from mcpserver.models import ToolPolicy

    note = _note(make_user)
    names = [tool["name"] for tool in mcp.modern("tools/list").json()["result"]["tools"]]
    events = _listen(mcp, {"toolsListChanged": True, "resourceSubscriptions": [f"notes://{note.key}"]}, "s-1")
    events.message()
    with django_capture_on_commit_callbacks(execute=True):
        note.save()
        ToolPolicy.objects.create(name=names[0], enabled=False)
    updated, changed = events.message()[1], events.message()[1]
    assert updated == {
        "jsonrpc": "2.0",
        "method": "notifications/resources/updated",
        "params": {"uri": f"notes://{note.key}", "_meta": {SUBSCRIPTION_ID: "s-1"}},
    }
    assert changed == {
        "jsonrpc": "2.0",
        "method": "notifications/tools/list_changed",
        "params": {"_meta": {SUBSCRIPTION_ID: "s-1"}},
    }
    events.close()


def test_a_listen_stream_sends_only_what_its_filter_names(mcp, django_capture_on_commit_callbacks, settings):
    from mcpserver.models import ToolPolicy

    settings.MCPSERVER = {**settings.MCPSERVER, "NOTIFICATION_STREAM_SECONDS": 1}
    names = [tool["name"] for tool in mcp.modern("tools/list").json()["result"]["tools"]]
    events = _listen(mcp, {"promptsListChanged": True})
    assert events.message()[1]["params"]["notifications"] == {}
    with django_capture_on_commit_callbacks(execute=True):
        ToolPolicy.objects.create(name=names[0], enabled=False)
    _, last = events.message()  # the lifetime is over: the subscription ends gracefully
    assert last == {
        "jsonrpc": "2.0",
        "id": 7,
        "result": {"resultType": "complete", "_meta": {SUBSCRIPTION_ID: 7}},
    }


@pytest.mark.parametrize(
    "notifications",
    [
        None,
        [],
        {"resourceSubscriptions": "notes://x"},
        {"resourceSubscriptions": [3]},
        {"resourceSubscriptions": ["notes://" + "x" * 3000]},
    ],
)
def test_a_listen_request_with_a_bad_filter_is_invalid_params(mcp, notifications):
    params = {} if notifications is None else {"notifications": notifications}
    response = mcp.modern("subscriptions/listen", params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32602


def test_listening_needs_sse_and_resource_subscriptions_need_the_read_scope(mcp, issue):
    params = {"notifications": {}, "_meta": {PV_KEY: MODERN, CAPS_KEY: {}}}
    refused = mcp.raw(
        {"jsonrpc": "2.0", "id": 1, "method": "subscriptions/listen", "params": params},
        {"MCP-Protocol-Version": MODERN, "Mcp-Method": "subscriptions/listen", "Accept": "application/json"},
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == -32600
    tools_only = issue(scopes=["mcp:tools"])
    response = mcp.modern(
        "subscriptions/listen", {"notifications": {"resourceSubscriptions": ["mcp://server/description"]}},
        token=tools_only,
    )  # fmt: skip
    assert response.status_code == 403


def test_a_listen_stream_counts_among_the_streams_not_the_requests_in_flight(mcp, settings):
    from mcpserver import limits

    settings.MCPSERVER = {**settings.MCPSERVER, "MAX_INFLIGHT_PER_CALLER": 1, "MAX_STREAMS": 1}
    events = _listen(mcp, {"toolsListChanged": True})
    events.message()
    assert mcp.modern("tools/list").status_code == 200  # the caller's one request slot is free
    assert mcp.modern("subscriptions/listen", {"notifications": {}}).status_code == 429  # the stream's is not
    assert sum(limits.in_flight().values()) == 2  # the caller's stream, and the worker's
    events.close()
    assert limits.in_flight() == {}

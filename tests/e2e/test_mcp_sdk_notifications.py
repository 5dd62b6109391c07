"""The official MCP Python SDK hears of changes from the live server: a 2025 session subscribed to a note
gets ``notifications/resources/updated`` on its GET stream, and a 2026-07-28 ``listen()`` gets it on
its listen stream, when the note is edited through another connection. The live server runs several
worker processes on the embedded default: the notification crosses processes through the shared
state."""

from __future__ import annotations

import warnings

import anyio
import pytest

pytest.importorskip("mcp")
httpx2 = pytest.importorskip("httpx2")

import mcp_types as types  # noqa: E402
from mcp.client import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared.subscriptions import ResourceUpdated  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_server_errors")

SCOPES = ["mcp:read", "mcp:tools"]


def sdk_client(url: str, token: str, mode: str, **options) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return Client(streamable_http_client(url, http_client=http), mode=mode, **options)


async def _legacy_update(url: str, token: str) -> list:
    received: list = []
    arrived = anyio.Event()

    async def on_message(message) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            received.append(str(message.params.uri))
            arrived.set()

    async with sdk_client(url, token, "legacy", message_handler=on_message) as client:
        created = await client.call_tool("create_note", {"title": "watched", "body": "v1"})
        uri = f"notes://{created.structured_content['key']}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated as of 2026-07-28; this is a 2025 session
            await client.subscribe_resource(uri)
        await anyio.sleep(0.5)  # the SDK opens its GET stream in the background
        async with sdk_client(url, token, "legacy") as editor:  # another connection, maybe another worker
            await editor.call_tool("edit_note", {"key": created.structured_content["key"], "body": "v2"})
        with anyio.fail_after(10):
            await arrived.wait()
        return [uri, received]


def test_a_2025_sdk_session_hears_of_its_subscribed_note_on_the_get_stream(live_server):
    token = live_server.issue_token("alice", SCOPES)
    uri, received = anyio.run(_legacy_update, live_server.mcp_url, token)
    # At least once: a stream that read the log late may also tell of the note's creation, which came
    # just before the subscription (docs/mcp.md); nothing about another resource.
    assert received and set(received) == {uri}


async def _listened(url: str, token: str) -> list:
    events: list = []
    async with sdk_client(url, token, "auto") as client:
        created = await client.call_tool("create_note", {"title": "listened", "body": "v1"})
        key = created.structured_content["key"]
        async with client.listen(tools_list_changed=True, resource_subscriptions=[f"notes://{key}"]) as sub:
            async with sdk_client(url, token, "auto") as editor:
                await editor.call_tool("edit_note", {"key": key, "body": "v2"})
            with anyio.fail_after(10):
                async for event in sub:
                    events.append(event)
                    break
        return [f"notes://{key}", events]


def test_a_2026_sdk_listen_hears_of_a_resource_update(live_server):
    token = live_server.issue_token("alice", SCOPES)
    uri, events = anyio.run(_listened, live_server.mcp_url, token)
    assert len(events) == 1 and isinstance(events[0], ResourceUpdated)
    assert str(events[0].uri) == uri

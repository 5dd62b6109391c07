"""A project's own app behind MCP and OAuth, as a Django team would write it: a throwaway app whose one
``mcp.py`` holds a type-hinted tool, a DRF-serializer tool and a ViewSet exposed as tools, installed
in a live server (discovered, no capability list edited) and driven by the official MCP Python SDK
through the whole OAuth flow (metadata, authorization code + PKCE, sign-in and consent).

What the SDK receives must be what the hints and the serializer define; bad arguments come back as
tool errors; a user without the role the write tool names cannot call it; and the token the SDK
obtained reads the app's REST endpoint.
"""

from __future__ import annotations

import textwrap

import anyio
import httpx
import pytest

pytest.importorskip("mcp")
httpx2 = pytest.importorskip("httpx2")

from mcp.client import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402

from .liveserver import LiveServer  # noqa: E402
from .test_mcp_oauth import Browser, MemoryStorage, sdk_http  # noqa: E402

APP_MCP = '''
from typing import Literal

from rest_framework import serializers

from mcpserver.drf import expose_viewset
from mcpserver.registry import tool
from notes.api import NoteViewSet


@tool()
def convert(ctx, celsius: float, to: Literal["fahrenheit", "kelvin"] = "fahrenheit") -> dict[str, float]:
    """Convert a temperature.

    Args:
        celsius: Degrees Celsius.
        to: The scale to convert to.
    """
    value = celsius * 9 / 5 + 32 if to == "fahrenheit" else celsius + 273.15
    return {to: round(value, 2)}


class GreetingSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=20, help_text="Who to greet.")
    times = serializers.IntegerField(min_value=1, max_value=3, default=1)


@tool(input=GreetingSerializer)
def greet(ctx, greeting) -> str:
    """Greet someone."""
    return " ".join([f"Hello, {greeting['name']}!"] * greeting["times"])


notes_tools = expose_viewset(NoteViewSet, "mynotes", ["list", "create"], roles={"create": ["editor"]})
'''


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    where = tmp_path_factory.mktemp("platform-app")
    (where / "teamapp").mkdir()
    (where / "teamapp" / "__init__.py").write_text("")
    (where / "teamapp" / "mcp.py").write_text(textwrap.dedent(APP_MCP))
    (where / "teamapp_settings.py").write_text(
        "from config.settings import *  # noqa: F403\n"
        "INSTALLED_APPS = [*INSTALLED_APPS, 'teamapp']  # noqa: F405\n"
    )
    env = {"PYTHONPATH": str(where), "DJANGO_SETTINGS_MODULE": "teamapp_settings"}
    with LiveServer(workers=1, env=env) as server:
        yield server


async def _session(server_url: str, browser: Browser, storage: MemoryStorage) -> dict:
    http = sdk_http(server_url, browser, storage)
    async with Client(streamable_http_client(server_url, http_client=http), mode="auto") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        return {
            "tools": tools,
            "convert": await client.call_tool("convert", {"celsius": 100, "to": "kelvin"}),
            "convert_bad": await client.call_tool("convert", {"celsius": "hot"}),
            "greet": await client.call_tool("greet", {"name": "Ada", "times": 2}),
            "greet_bad": await client.call_tool("greet", {"name": "x" * 30}),
            "list": await client.call_tool("mynotes_list", {}),
            "create": await _refusal(client.call_tool("mynotes_create", {"title": "not mine to write"})),
        }


async def _refusal(call) -> str:
    try:
        await call
    except MCPError as exc:
        return str(exc)
    return "answered"


def test_a_teams_app_is_served_to_the_sdk_through_oauth(app_server):
    storage = MemoryStorage()
    seen = anyio.run(_session, app_server.mcp_url, Browser(app_server.url, keeps=[None]), storage)
    tools = seen["tools"]

    # The schemas are the ones the type hints, the docstring and the serializer define.
    convert = tools["convert"].input_schema
    assert convert["properties"]["celsius"] == {"type": "number", "description": "Degrees Celsius."}
    assert convert["properties"]["to"]["enum"] == ["fahrenheit", "kelvin"]
    assert convert["properties"]["to"]["default"] == "fahrenheit" and convert["required"] == ["celsius"]
    assert seen["convert"].structured_content == {"kelvin": 373.15}
    greet = tools["greet"].input_schema
    assert greet["properties"]["name"]["maxLength"] == 20
    assert greet["properties"]["name"]["description"] == "Who to greet."
    assert greet["properties"]["times"]["minimum"] == 1 and greet["properties"]["times"]["maximum"] == 3
    assert seen["greet"].content[0].text == "Hello, Ada! Hello, Ada!"

    # Bad arguments are tool errors the model can read, from pydantic and from DRF alike.
    assert seen["convert_bad"].is_error and "celsius" in seen["convert_bad"].content[0].text
    assert seen["greet_bad"].is_error and "name" in seen["greet_bad"].content[0].text

    # The ViewSet's list runs for alice (her notes only); its create needs a role she does not hold.
    assert "mynotes_list" in tools and "mynotes_create" not in tools
    listed = seen["list"].structured_content
    assert listed["items"] and {note["owner"] for note in listed["items"]} == {"alice"}
    assert seen["create"] == "Unknown tool: mynotes_create"  # as if it did not exist

    # The token the SDK obtained reads the app's REST API, with the same rules.
    token = storage.tokens.access_token
    with httpx.Client(base_url=app_server.url, timeout=30) as http:
        rest = http.get("/api/notes/", headers={"Authorization": f"Bearer {token}"})
        refused = http.get("/api/notes/")
    assert rest.status_code == 200
    assert sorted(note["title"] for note in rest.json()["results"]) == sorted(
        note["title"] for note in listed["items"]
    )
    assert refused.status_code == 401

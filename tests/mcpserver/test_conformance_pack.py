"""The opt-in conformance fixture pack: off by default, and each fixture answers as the suite expects."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps

import mcpserver
from mcpserver.registry import build_registry

pytestmark = pytest.mark.django_db


@pytest.fixture
def pack(settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "FIXTURE_PACK": True}
    app = apps.get_app_config("mcpserver")
    original, app.registry = app.registry, build_registry()
    yield
    app.registry = original


def test_pack_is_off_by_default():
    assert build_registry().get("tool", "test_simple_text") is None


def _modules(registry) -> set[str]:
    return {item.handler.__module__ for kind in registry.tables for item in registry.all(kind)}


def test_the_pack_is_a_package_of_its_own_outside_the_app(settings):
    assert not list(Path(mcpserver.__file__).parent.glob("conformance*"))
    settings.MCPSERVER = {**settings.MCPSERVER, "FIXTURE_PACK": False}
    without = _modules(build_registry())
    settings.MCPSERVER = {**settings.MCPSERVER, "FIXTURE_PACK": True}
    assert _modules(build_registry()) - without == {"mcp_conformance_fixtures.capabilities"}


def test_the_pack_is_not_even_imported_unless_asked():
    """A fresh process with the default settings: the app starts without ever importing the pack."""
    code = (
        "import sys, django; django.setup(); "
        "print(sorted(name for name in sys.modules if name.startswith('mcp_conformance_fixtures')))"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    environment.pop("MCP_FIXTURE_PACK", None)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def result(mcp, name, arguments=None, **kwargs):
    response = mcp.modern("tools/call", {"name": name, "arguments": arguments or {}}, **kwargs)
    assert response.status_code == 200, response.content
    return response.json()["result"]


def test_content_fixtures(pack, mcp):
    assert (
        result(mcp, "test_simple_text")["content"][0]["text"] == "This is a simple text response for testing."
    )
    image = result(mcp, "test_image_content")["content"][0]
    assert image["mimeType"] == "image/png" and base64.b64decode(image["data"]).startswith(b"\x89PNG")
    audio = result(mcp, "test_audio_content")["content"][0]
    assert audio["mimeType"] == "audio/wav" and base64.b64decode(audio["data"]).startswith(b"RIFF")
    assert result(mcp, "test_embedded_resource")["content"][0]["type"] == "resource"
    types = [c["type"] for c in result(mcp, "test_multiple_content_types")["content"]]
    assert types == ["text", "image", "resource"]
    assert result(mcp, "test_error_handling")["isError"] is True
    assert result(mcp, "test_sampling", {"prompt": "x"})["isError"] is True


def test_missing_capability_fixture(pack, mcp):
    response = mcp.modern("tools/call", {"name": "test_missing_capability"})
    assert response.status_code == 400
    assert response.json()["error"]["data"]["requiredCapabilities"] == {"sampling": {}}


def test_json_schema_2020_12_is_listed_verbatim(pack, mcp):
    tools = {}
    cursor = None
    while True:
        page = mcp.modern("tools/list", {"cursor": cursor} if cursor else {}).json()["result"]
        tools.update({t["name"]: t for t in page["tools"]})
        cursor = page.get("nextCursor")
        if not cursor:
            break
    schema = tools["json_schema_2020_12_tool"]["inputSchema"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["address"] == {"$ref": "#/$defs/address"}
    assert schema["$defs"]["address"]["$anchor"] == "addressDef"
    ok = result(mcp, "json_schema_2020_12_tool", {"name": "a", "address": {"city": "x"}, "email": "e"})
    assert "isError" not in ok
    arguments = {"email": "e", "address": {"city": 5}}
    bad = mcp.modern("tools/call", {"name": "json_schema_2020_12_tool", "arguments": arguments})
    assert bad.status_code == 200 and bad.json()["result"]["isError"] is True
    assert "arguments.address.city: 5 is not of type 'string'" in bad.json()["result"]["content"][0]["text"]
    # The schema's allOf / if-then-else are enforced too (the hand-written subset ignored them).
    refused = result(mcp, "json_schema_2020_12_tool", {"contactMethod": "phone", "email": "e"})
    assert "arguments: 'phone' is a required property" in refused["content"][0]["text"]


def test_progress_and_logging_fixtures_stream(pack, mcp):
    response = mcp.modern("tools/call", {"name": "test_tool_with_progress"}, meta={"progressToken": "tok"})
    events = [
        json.loads(line[6:])
        for line in b"".join(response.streaming_content).decode().splitlines()
        if line.startswith("data: ")
    ]
    assert [e["params"]["progress"] for e in events[:-1]] == [0, 50, 100]
    assert events[-1]["result"]["content"][0]["text"] == "tok"
    session = {"Mcp-Session-Id": mcp.initialize()["Mcp-Session-Id"]}
    mcp.legacy("logging/setLevel", {"level": "debug"}, headers=session)
    logged = mcp.legacy("tools/call", {"name": "test_tool_with_logging", "arguments": {}}, headers=session)
    notes = [
        json.loads(line[6:])
        for line in b"".join(logged.streaming_content).decode().splitlines()
        if line.startswith("data: ")
    ]
    assert [n["params"]["data"] for n in notes if n.get("method") == "notifications/message"] == [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
    ]


def test_prompt_and_resource_fixtures(pack, mcp):
    prompt = mcp.modern(
        "prompts/get", {"name": "test_prompt_with_arguments", "arguments": {"arg1": "a", "arg2": "b"}}
    )
    assert (
        prompt.json()["result"]["messages"][0]["content"]["text"]
        == "Prompt with arguments: arg1='a', arg2='b'"
    )
    missing = mcp.modern("prompts/get", {"name": "test_prompt_with_arguments", "arguments": {"arg1": "a"}})
    assert missing.json()["error"]["code"] == -32602
    embedded = mcp.modern(
        "prompts/get",
        {"name": "test_prompt_with_embedded_resource", "arguments": {"resourceUri": "test://x"}},
    ).json()["result"]
    assert embedded["messages"][0]["content"]["resource"]["uri"] == "test://x"
    image = mcp.modern("prompts/get", {"name": "test_prompt_with_image"}).json()["result"]
    assert image["messages"][0]["content"]["type"] == "image"
    text = mcp.modern("resources/read", {"uri": "test://static-text"}).json()["result"]["contents"][0]
    assert text == {
        "uri": "test://static-text",
        "mimeType": "text/plain",
        "text": "This is the content of the static text resource.",
    }
    blob = mcp.modern("resources/read", {"uri": "test://static-binary"}).json()["result"]["contents"][0]
    assert blob["mimeType"] == "image/png" and base64.b64decode(blob["blob"]).startswith(b"\x89PNG")
    data = mcp.modern("resources/read", {"uri": "test://template/123/data"}).json()["result"]["contents"][0]
    assert json.loads(data["text"]) == {"id": "123", "templateTest": True, "data": "Data for ID: 123"}


@pytest.mark.parametrize(
    ("arguments", "headers", "ok"),
    [
        ({"region": "eu-west"}, {"Mcp-Param-Region": "eu-west"}, True),
        ({"region": "été"}, {"Mcp-Param-Region": "=?base64?w6l0w6k=?="}, True),
        ({"level": 3}, {}, True),
        ({"region": "eu-west"}, {}, False),
        ({"region": "eu-west"}, {"Mcp-Param-Region": "us-east"}, False),
        ({}, {"Mcp-Param-Region": "eu-west"}, False),
        # A header mismatch is a protocol error even when the arguments also break the schema.
        ({"region": 5}, {"Mcp-Param-Region": "us-east"}, False),
    ],
)
def test_mcp_param_headers(pack, mcp, arguments, headers, ok):
    response = mcp.modern(
        "tools/call", {"name": "test_x_mcp_header", "arguments": arguments}, headers=headers
    )
    if ok:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32020


ALL_CAPS = {
    "meta": {"io.modelcontextprotocol/clientCapabilities": {"elicitation": {}, "sampling": {}, "roots": {}}}
}
ACCEPT = {"action": "accept", "content": {"name": "Alice", "ok": True, "color": "blue", "context": "c"}}
SAMPLED = {"role": "assistant", "content": {"type": "text", "text": "Paris"}, "model": "m"}
ANSWERS = {"elicitation/create": ACCEPT, "sampling/createMessage": SAMPLED, "roots/list": {"roots": []}}


@pytest.mark.parametrize(
    ("name", "asked"),
    [
        ("test_input_required_result_elicitation", [["user_name"]]),
        ("test_input_required_result_sampling", [["capital_question"]]),
        ("test_input_required_result_list_roots", [["client_roots"]]),
        ("test_input_required_result_request_state", [["confirm"]]),
        ("test_input_required_result_tampered_state", [["confirm"]]),
        ("test_input_required_result_multiple_inputs", [["user_name", "greeting", "client_roots"]]),
        ("test_input_required_result_multi_round", [["step1"], ["step2"]]),
        ("test_input_required_result_capabilities", [["user_name"]]),
    ],
)
def test_input_required_fixtures_ask_with_the_keys_the_suite_expects(pack, mcp, name, asked):
    params = {"name": name, "arguments": {}}
    for keys in asked:
        found = mcp.modern("tools/call", params, **ALL_CAPS).json()["result"]
        assert found["resultType"] == "input_required" and list(found["inputRequests"]) == keys
        responses = {key: ANSWERS[request["method"]] for key, request in found["inputRequests"].items()}
        params = {**params, "inputResponses": responses, "requestState": found["requestState"]}
    done = mcp.modern("tools/call", params, **ALL_CAPS).json()["result"]
    assert done["resultType"] == "complete" and "isError" not in done, done
    if name.endswith("request_state"):
        assert "state-ok" in done["content"][0]["text"]


def test_the_capability_fixture_asks_only_what_the_client_declared(pack, mcp):
    meta = {"io.modelcontextprotocol/clientCapabilities": {"sampling": {}}}
    found = mcp.modern("tools/call", {"name": "test_input_required_result_capabilities"}, meta=meta)
    requests = found.json()["result"]["inputRequests"]
    assert [request["method"] for request in requests.values()] == ["sampling/createMessage"]


def test_the_input_required_prompt_fixture(pack, mcp):
    first = mcp.modern("prompts/get", {"name": "test_input_required_result_prompt"}, **ALL_CAPS).json()[
        "result"
    ]
    assert list(first["inputRequests"]) == ["user_context"]
    retry = {"name": "test_input_required_result_prompt", "requestState": first["requestState"]}
    retry["inputResponses"] = {"user_context": ACCEPT}
    done = mcp.modern("prompts/get", retry, **ALL_CAPS).json()["result"]
    assert done["messages"][0]["content"]["text"] == "Answer with this context in mind: c"


def test_the_tool_change_trigger_switches_its_tool_off_and_on_and_listeners_hear_of_it(
    pack, mcp, django_capture_on_commit_callbacks
):
    from tests.mcpserver.test_subscriptions import Events

    def listed():
        return {tool["name"] for tool in mcp.modern("tools/list").json()["result"]["tools"]}

    assert "test_toggled_tool" in listed()
    listen = mcp.modern("subscriptions/listen", {"notifications": {"toolsListChanged": True}})
    events = Events(listen)
    events.message()  # the acknowledgement
    with django_capture_on_commit_callbacks(execute=True):
        assert result(mcp, "test_trigger_tool_change")["content"][0]["text"] == "test_toggled_tool is now off"
    assert "test_toggled_tool" not in listed()
    assert events.message()[1]["method"] == "notifications/tools/list_changed"
    with django_capture_on_commit_callbacks(execute=True):
        result(mcp, "test_trigger_tool_change")
    assert "test_toggled_tool" in listed()
    assert events.message()[1]["method"] == "notifications/tools/list_changed"
    events.close()

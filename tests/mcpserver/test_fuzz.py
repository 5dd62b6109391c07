"""Property test: no body, header or token combination makes /mcp answer 500 or leak a traceback."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import CAPS_KEY, PV_KEY

pytestmark = pytest.mark.django_db

METHODS = [
    "server/discover",
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "logging/setLevel",
    "notifications/initialized",
    "nope",
]
VERSIONS = ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "1999-01-01", ""]

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
metas = st.fixed_dictionaries(
    {},
    optional={
        PV_KEY: st.sampled_from(VERSIONS) | json_values,
        CAPS_KEY: st.just({}) | json_values,
        "progressToken": st.text(max_size=5) | st.integers(),
    },
)
params = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["echo", "get_time", "whoami", "long_task", "greeting", "help", "x"])
        | json_values,
        "uri": st.sampled_from(["mcp://server/description", "mcp://tools/echo", "x"]) | json_values,
        "arguments": st.dictionaries(
            st.sampled_from(["message", "repeat_count", "timezone", "steps", "interval_ms", "topic"]),
            json_values,
            max_size=3,
        )
        | json_values,
        "cursor": st.text(max_size=12) | json_values,
        "protocolVersion": st.sampled_from(VERSIONS) | json_values,
        "level": st.text(max_size=8),
        "_meta": metas | json_values,
    },
)
messages = st.fixed_dictionaries(
    {"jsonrpc": st.just("2.0") | json_values},
    optional={
        "id": st.integers() | st.text(max_size=5) | json_values,
        "method": st.sampled_from(METHODS) | json_values,
        "params": params | json_values,
        "result": json_values,
    },
)
bodies = (
    messages.map(json.dumps)
    | st.lists(messages, max_size=3).map(json.dumps)
    | json_values.map(json.dumps)
    | st.text(max_size=40)
    | st.binary(max_size=40)
)
header_values = st.sampled_from(METHODS + VERSIONS + ["=?base64?ZWNobw==?=", "=?base64?%%?="]) | st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20
)
headers = st.dictionaries(
    st.sampled_from(
        [
            "HTTP_MCP_PROTOCOL_VERSION",
            "HTTP_MCP_METHOD",
            "HTTP_MCP_NAME",
            "HTTP_MCP_SESSION_ID",
            "HTTP_ACCEPT",
            "HTTP_ORIGIN",
            "CONTENT_TYPE",
        ]
    ),
    header_values,
    max_size=5,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=bodies,
    extra=headers,
    with_token=st.booleans(),
    http_method=st.sampled_from(["post", "post", "delete"]),
)
def test_no_input_produces_a_500(client, token, body, extra, with_token, http_method):
    meta = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if with_token else {}
    meta.update(extra)
    content_type = meta.pop("CONTENT_TYPE", "application/json")
    response = getattr(client, http_method)("/mcp", body, content_type=content_type, **meta)
    assert response.status_code < 500, response.content
    if response.streaming:  # SSE, or a generator tool's JSON answer
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    assert b"Traceback" not in content
    if response.get("Content-Type") == "application/json":
        json.loads(content)

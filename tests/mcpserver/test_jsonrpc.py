"""Framework-free JSON-RPC 2.0: decoding limits, message validation and response building."""

from __future__ import annotations

import json

import pytest

from mcpserver import jsonrpc
from mcpserver.exceptions import InvalidParams, InvalidRequest, ParseError


def test_depth_limit_is_exact():
    assert jsonrpc.loads(b"[" * 64 + b"]" * 64, 64) is not None
    with pytest.raises(InvalidRequest):
        jsonrpc.loads(b"[" * 65 + b"]" * 65, 64)
    with pytest.raises(InvalidRequest):
        jsonrpc.loads(b'{"a":' * 65 + b"1" + b"}" * 65, 64)


def test_brackets_inside_strings_do_not_count_as_depth():
    body = json.dumps({"text": "[" * 500}).encode()
    assert jsonrpc.loads(body, 64) == {"text": "[" * 500}


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe", b'{"a": NaN}', b"Infinity", b"1" * 5000])
def test_parse_errors(body):
    with pytest.raises(ParseError):
        jsonrpc.loads(body, 64)


def test_message_kinds():
    request = jsonrpc.message({"jsonrpc": "2.0", "id": "a", "method": "ping"})
    assert request.is_request and request.request_id == "a" and request.params == {}
    note = jsonrpc.message({"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert note.is_notification and note.request_id is None
    answer = jsonrpc.message({"jsonrpc": "2.0", "id": 3, "result": {}})
    assert not answer.is_request and not answer.is_notification


@pytest.mark.parametrize(
    "obj",
    [
        {"jsonrpc": "2.0", "id": 1, "result": {}, "error": {}},
        {"jsonrpc": "2.0", "id": 1},
        {"jsonrpc": "2.0", "method": ""},
        [],
    ],
)
def test_invalid_messages(obj):
    with pytest.raises(InvalidRequest):
        jsonrpc.message(obj)


def test_error_and_result_shapes():
    error = jsonrpc.error(7, InvalidParams("Unknown resource: x", data={"uri": "x"}))
    assert error == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {"code": -32602, "message": "Unknown resource: x", "data": {"uri": "x"}},
    }
    assert jsonrpc.result(1, {}) == {"jsonrpc": "2.0", "id": 1, "result": {}}


def test_dumps_keeps_lone_surrogates_as_json_escapes():
    value = json.loads('"\\ud800"')
    assert json.loads(jsonrpc.dumps({"v": value})) == {"v": value}

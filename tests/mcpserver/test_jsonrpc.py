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


# Bodies decoded by orjson or, where orjson would differ, by the standard library: the same values.
AGREED_BODIES = [
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}',
    b'{"id": 123456789012345678901234567890}',  # orjson would return a float
    b'{"id": -9223372036854775809, "x": 18446744073709551616}',
    b'{"x": 0.1234567890123456789, "y": 1e400, "z": -0.0}',  # 1e400 is inf for the standard library
    b'{"s": "\\ud800 lone", "t": "\\u00e9\\u4e2d"}',
    b'{"a": 1, "a": 2}',
    '\ufeff{"bom": true}'.encode(),
    '{"utf16": [1, 2]}'.encode("utf-16"),
    b' \n[1, "2", null, true, false, {}] \t',
]


@pytest.mark.parametrize("body", AGREED_BODIES)
def test_decoding_agrees_with_the_standard_library(body):
    expected = json.loads(body)
    decoded = jsonrpc.loads(body, 64)
    assert decoded == expected or (decoded != decoded and expected != expected)
    assert json.dumps(decoded, sort_keys=True) == json.dumps(expected, sort_keys=True)  # types too


def test_a_big_integer_id_is_echoed_exactly():
    body = b'{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}'
    message = jsonrpc.message(jsonrpc.loads(body, 64))
    assert message.request_id == 123456789012345678901234567890
    assert jsonrpc.dumps(jsonrpc.result(message.request_id, {})) == (
        b'{"jsonrpc":"2.0","id":123456789012345678901234567890,"result":{}}'
    )


@pytest.mark.parametrize(
    "value",
    [
        {"content": [{"type": "text", "text": "é 中 😀"}], "isError": False},
        {1: "integer keys become strings"},
        {"big": 2**70, "small": -(2**63)},
        {"tuple": (1, 2), "float": 1e16, "nested": [[{}]]},
    ],
)
def test_encoding_agrees_with_the_standard_library(value):
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    assert json.loads(jsonrpc.dumps(value)) == json.loads(expected)


def test_values_json_cannot_hold_are_refused_as_before():
    import datetime

    with pytest.raises(TypeError):
        jsonrpc.dumps({"when": datetime.datetime(2026, 1, 1)})
    with pytest.raises(TypeError):
        jsonrpc.dumps({"what": object()})


def test_not_a_number_is_written_as_null_never_as_invalid_json():
    assert jsonrpc.dumps({"v": float("nan"), "w": float("inf")}) == b'{"v":null,"w":null}'

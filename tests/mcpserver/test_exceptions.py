"""JSON-RPC error bodies: ``McpError.as_error`` builds the error object, ``jsonrpc`` the message around it."""

from __future__ import annotations

import ast
from pathlib import Path

import mcpserver
from mcpserver import jsonrpc
from mcpserver.exceptions import InvalidParams


def test_an_error_message_is_built_from_the_typed_error():
    message = jsonrpc.error(7, InvalidParams("bad cursor", data={"field": "cursor"}))
    assert message == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {"code": -32602, "message": "bad cursor", "data": {"field": "cursor"}},
    }


def _dict_keys(module: Path) -> list[set]:
    return [
        {key.value for key in node.keys if isinstance(key, ast.Constant)}
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, ast.Dict)
    ]


def test_json_rpc_bodies_are_built_in_one_place():
    package = Path(mcpserver.__file__).parent
    messages, errors = set(), set()
    for module in package.rglob("*.py"):
        for keys in _dict_keys(module):
            if "jsonrpc" in keys:
                messages.add(module.name)
            if {"code", "message"} <= keys:
                errors.add(module.name)
    assert messages == {"jsonrpc.py"}
    assert errors == {"exceptions.py"}

"""Framework-free JSON-RPC 2.0: parse one body into messages, and build responses.

Bodies are decoded and encoded with orjson (the cheaper of the two on the /mcp hot path), and by
the standard library wherever orjson would answer differently: integers beyond 64 bits (orjson turns
them into floats), lone surrogates, non-UTF-8 encodings and BOMs, infinities, and values orjson
cannot or would write otherwise (non-string keys, big integers, dates and dataclasses).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from .exceptions import InvalidRequest, McpError, ParseError

_NO_ID = object()


@dataclass(frozen=True)
class Message:
    """One inbound message: a request, a notification (no id) or a client's response (no method)."""

    method: str | None
    params: dict[str, Any] = field(default_factory=dict)
    id: Any = _NO_ID

    @property
    def is_request(self) -> bool:
        return self.method is not None and self.id is not _NO_ID

    @property
    def is_notification(self) -> bool:
        return self.method is not None and self.id is _NO_ID

    @property
    def request_id(self) -> Any:
        """The id to echo in a response; None when there is none."""
        return None if self.id is _NO_ID else self.id


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values() if isinstance(child, dict | list))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node if isinstance(child, dict | list))
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# 19 digits in a row may be an integer orjson cannot hold exactly (it would return a float).
_LONG_DIGITS = re.compile(rb"[0-9]{19}")
# orjson hands these to ``default`` (none here: TypeError), so that the standard library writes them
# as it always has (or refuses them as it always has).
_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def _decode(body: bytes) -> Any:
    if not _LONG_DIGITS.search(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # invalid, or valid in a way only the standard library reads: it decides
    return json.loads(body, parse_constant=_refuse_constant)


def loads(body: bytes, max_depth: int) -> Any:
    """Decode a UTF-8 JSON body, refusing invalid JSON and nesting deeper than ``max_depth``."""
    try:
        value = _decode(body)
    except RecursionError as exc:
        raise InvalidRequest(f"JSON nested deeper than {max_depth} levels") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError() from exc
    # Fewer opening brackets than the limit cannot nest deeper than it: skip the walk (most bodies).
    if body.count(b"[") + body.count(b"{") > max_depth and _depth_exceeds(value, max_depth):
        raise InvalidRequest(f"JSON nested deeper than {max_depth} levels")
    return value


def _valid_id(value: Any) -> bool:
    # MCP narrows JSON-RPC ids to strings and integers (never null, never a float or a bool).
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def peek_id(obj: Any) -> Any:
    """The request id of a (possibly invalid) message, when it can be read."""
    if isinstance(obj, dict) and _valid_id(obj.get("id")):
        return obj["id"]
    return None


def message(obj: Any) -> Message:
    """Validate one decoded JSON-RPC 2.0 object (JSON-RPC 2.0 §4, §5)."""
    if not isinstance(obj, dict) or obj.get("jsonrpc") != "2.0":
        raise InvalidRequest("Not a JSON-RPC 2.0 message")
    has_id = "id" in obj
    if has_id and not _valid_id(obj["id"]):
        raise InvalidRequest("The id must be a string or an integer")
    if "method" not in obj:
        if has_id and (("result" in obj) != ("error" in obj)):
            return Message(method=None, id=obj["id"])
        raise InvalidRequest("A message needs a method, or an id with a result or an error")
    method, params = obj["method"], obj.get("params", {})
    if not isinstance(method, str) or not method:
        raise InvalidRequest("The method must be a non-empty string")
    if not isinstance(params, dict):
        raise InvalidRequest("The params must be an object")
    return Message(method=method, params=params, id=obj["id"] if has_id else _NO_ID)


def result(request_id: Any, value: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": value}


def error(request_id: Any, exc: McpError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": exc.as_error()}


def request(request_id: Any, method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}


def notification(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=_PASSTHROUGH)
    except TypeError:  # orjson.JSONEncodeError included
        # A lone surrogate (legal in a JSON string escape) is written back as the same escape.
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "backslashreplace")

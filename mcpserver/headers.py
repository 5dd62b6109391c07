"""MCP's HTTP header values: the ``=?base64?…?=`` codec and the ``Mcp-Param-*`` mirror of tool arguments."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from .exceptions import HeaderMismatch

PARAM_PREFIX = "mcp-param-"
_ENCODED = re.compile(r"^=\?base64\?(.*)\?=$")


def decode(value: str | None) -> str | None:
    """A header value with the ``=?base64?…?=`` form decoded; None when absent or badly encoded."""
    if value is None:
        return None
    encoded = _ENCODED.match(value)
    if encoded is None:
        return value
    try:
        raw = base64.b64decode(encoded.group(1), validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _rendered(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def mirrored(schema: dict[str, Any]) -> dict[str, str]:
    """Top-level properties annotated with ``x-mcp-header``, mapped to their header token."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return {
        name: prop["x-mcp-header"]
        for name, prop in (properties or {}).items()
        if isinstance(prop, dict) and isinstance(prop.get("x-mcp-header"), str)
    }


def check_params(schema: dict[str, Any], arguments: Mapping[str, Any], headers: Mapping[str, str]) -> None:
    """Each mirrored argument and its ``Mcp-Param-<token>`` header are present together and equal."""
    for name, token in mirrored(schema).items():
        header = headers.get(PARAM_PREFIX + token.lower())
        value = arguments.get(name)
        rendered = None if value is None else _rendered(value)
        if rendered is None:
            if header is not None:
                raise HeaderMismatch(f"Mcp-Param-{token} is present but argument {name!r} is not mirrorable")
            continue
        if header is None:
            raise HeaderMismatch(f"Mcp-Param-{token} is missing for argument {name!r}")
        if decode(header) != rendered:
            raise HeaderMismatch(f"Mcp-Param-{token} does not match argument {name!r}")

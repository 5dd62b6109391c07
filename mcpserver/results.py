"""Result shapes: what tools, prompts and resources return, turned into MCP content."""

from __future__ import annotations

import base64
import json
from typing import Any

from .definitions import Resource, Tool


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


def structured(value: dict[str, Any]) -> dict[str, Any]:
    """Structured content, and its JSON as a text block for clients that read only content."""
    return {"content": [text(json.dumps(value, ensure_ascii=False))], "structuredContent": value}


def tool_result(tool: Tool, value: Any) -> dict[str, Any]:
    """A dict with ``content`` is a whole result; a tool with an inferred output gets its structured
    content (``outputs.OutputError`` when the value does not fit); else the content rules below."""
    if isinstance(value, dict) and "content" in value:
        return value
    if tool.output is not None:
        return structured(tool.output.structured(value))
    if tool.output_schema is not None and isinstance(value, dict):
        return structured(value)
    if isinstance(value, str):
        return {"content": [text(value)]}
    if isinstance(value, list):
        return {"content": value}
    return {"content": [text(json.dumps(value, ensure_ascii=False, default=str))]}


def tool_failure(message: str) -> dict[str, Any]:
    return {"content": [text(message)], "isError": True}


def messages(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": text(value)}]
    return list(value)


def contents(resource: Resource, uri: str, value: Any) -> list[dict[str, Any]]:
    if isinstance(value, bytes):
        return [{"uri": uri, "mimeType": resource.mime_type, "blob": base64.b64encode(value).decode()}]
    if isinstance(value, str):
        return [{"uri": uri, "mimeType": resource.mime_type, "text": value}]
    return list(value)

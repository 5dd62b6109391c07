"""1,000 extra tools for the growth benchmark, registered by ``bench.settings``; never in production."""

from __future__ import annotations

from mcpserver.registry import tool

COUNT = 1000
SCHEMA = {
    "type": "object",
    "properties": {"message": {"type": "string", "maxLength": 1000}},
    "required": ["message"],
    "additionalProperties": False,
}


def _define(index: int):
    def handler(ctx, message: str) -> str:
        return message

    handler.__name__ = handler.__qualname__ = f"bench_tool_{index:04d}"
    handler.__doc__ = f"Benchmark tool number {index}: sends the message back."
    return tool(handler.__name__, input_schema=SCHEMA)(handler)


for _index in range(COUNT):
    globals()[f"bench_tool_{_index:04d}"] = _define(_index)

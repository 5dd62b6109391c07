"""The MCP resource server: Streamable HTTP at ``/mcp`` (2026-07-28 and 2025 eras), secured by RFC 9068 JWTs.

Adding a capability from any Django app: define it in the app's ``mcp`` module (discovered at start-up;
``MCPSERVER["CAPABILITIES"]`` names further modules) and a duplicate name fails at start-up. Schemas
come from type hints and docstrings (``docs/authoring.md``)::

    from typing import Literal

    from mcpserver.registry import Progress, ToolError, tool

    @tool(
        scopes=["weather:read"],  # needed besides mcp:tools (403 insufficient_scope names them all)
        roles=["staff"],          # any one of them; others neither see nor call the tool
    )
    def forecast(ctx, city: str, unit: Literal["C", "F"] = "C") -> dict[str, float]:
        \"\"\"Tomorrow's weather for a city.

        Args:
            city: Where.
        \"\"\"
        if city == "Atlantis":
            raise ToolError("Unknown city")     # a result with isError: true
        return {"high": 21.0}                   # structuredContent, with the outputSchema published

    @tool()
    def crunch(ctx):                            # a generator streams notifications (SSE)
        for step in range(3):
            yield Progress(step + 1, 3)
        return "done"

``ctx.user`` and ``ctx.client`` are the caller as Django objects (loaded when read), ``ctx.roles`` and
``ctx.scopes`` the token's; ``ctx.require(condition, "what")`` is an object-level check. ``ctx.token``
holds the verified claims, never the token itself. Admins can disable a tool or replace its scopes and
roles in the admin (Tool policies).
"""

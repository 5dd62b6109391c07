"""The MCP resource server: Streamable HTTP at ``/mcp`` (2026-07-28 and 2025 eras), secured by RFC 9068 JWTs.

Adding a capability from any Django app: define it with the decorators and name the module in
``MCPSERVER["CAPABILITIES"]``; it is registered in ``AppConfig.ready()`` (a duplicate name fails
at start-up)::

    from mcpserver.registry import Progress, PromptArgument, ToolError, prompt, resource, tool

    @tool(
        input_schema={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        scopes=["weather:read"],  # needed besides mcp:tools (403 insufficient_scope names them all)
        roles=["staff"],          # any one of them; others neither see nor call the tool
    )
    def forecast(ctx, city):
        \"\"\"Tomorrow's weather for a city.\"\"\"   # the description
        if city == "Atlantis":
            raise ToolError("Unknown city")     # a result with isError: true
        return f"Sunny in {city}"               # text; a dict with outputSchema; or content blocks

    @tool()
    def crunch(ctx):                            # a generator streams notifications (SSE)
        for step in range(3):
            yield Progress(step + 1, 3)
        return "done"

``ctx.token`` is the caller (subject, client_id, username, scopes, roles); never the token itself.
Admins can disable a tool or replace its scopes and roles in the admin (Tool policies).
"""

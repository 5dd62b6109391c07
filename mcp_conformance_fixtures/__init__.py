"""Test fixtures for the official MCP conformance suite: not part of any app, loaded only by ``FIXTURE_PACK``.

``capabilities`` defines the tools, prompts and resources the suite's server scenarios call, through
``mcpserver``'s public registry decorators, as any project's own capability module would. The MCP
server registers it only when ``MCPSERVER["FIXTURE_PACK"]`` (``MCP_FIXTURE_PACK``) is on; never in
production.
"""

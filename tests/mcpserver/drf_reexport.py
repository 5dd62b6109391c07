"""Imports another module's ViewSet tools: registering this module registers none of them."""

from tests.mcpserver.drf_capabilities import notes_tools  # noqa: F401

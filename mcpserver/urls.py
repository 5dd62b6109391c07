"""URLs of the MCP resource server (filled in by the MCP server work)."""

urlpatterns: list = []

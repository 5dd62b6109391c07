"""Root URLconf: the admin, the authorization server, the MCP server, the management API and the
example app's API."""

from django.contrib import admin
from django.urls import include, path

# Most-requested first: Django tries the patterns in order (and records each miss), so /mcp and the
# probes resolve without walking the authorization server's and the admin's patterns.
urlpatterns = [
    path("", include("mcpserver.urls")),
    path("", include("observability.urls")),
    path("", include("authserver.urls")),
    path("", include("management_api.urls")),
    path("", include("notes.urls")),  # the example app's REST API
    path("admin/", admin.site.urls),
]

# An unreachable database or cache answers 503 with Retry-After (mcpserver maps its own, in JSON-RPC).
handler500 = "authserver.outages.server_error"

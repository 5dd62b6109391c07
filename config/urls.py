"""Root URLconf: the admin, the authorization server and the MCP server."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("authserver.urls")),
    path("", include("mcpserver.urls")),
    path("", include("observability.urls")),
]

# An unreachable database or cache answers 503 with Retry-After (mcpserver maps its own, in JSON-RPC).
handler500 = "authserver.outages.server_error"

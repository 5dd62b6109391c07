"""Root URLconf: the admin, the authorization server and the MCP server."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("authserver.urls")),
    path("", include("mcpserver.urls")),
    path("", include("observability.urls")),
]

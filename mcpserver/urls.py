"""URLs of the MCP resource server: the endpoint (no trailing slash, never redirected) and its metadata."""

from django.urls import path

from . import views

urlpatterns = [
    path("mcp", views.McpView.as_view(), name="mcp"),
    path(
        ".well-known/oauth-protected-resource/mcp",
        views.ProtectedResourceMetadataView.as_view(),
        name="mcp-prm",
    ),
    path(
        ".well-known/oauth-protected-resource",
        views.ProtectedResourceMetadataView.as_view(),
        name="mcp-prm-root",
    ),
]

"""DRF as MCP tools: a serializer as a tool's input or output (``@tool(input=NoteSerializer)``,
``serializers``) and a ViewSet's actions as tools (``expose_viewset``, ``viewsets``), with schemas made
by drf-spectacular (``schemas``) and the MCP caller as the DRF request's user and auth (``requests``)."""

from .viewsets import ViewSetTools, expose_viewset

__all__ = ["ViewSetTools", "expose_viewset"]

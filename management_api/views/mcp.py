"""``tool-policies`` (CRUD) and ``audit-records`` (read-only, cursor pages) of the MCP server."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import viewsets

from mcpserver.models import AuditRecord, ToolPolicy

from ..filters import AuditRecordFilter, ToolPolicyFilter
from ..pagination import AuditCursor
from ..serializers.mcp import AuditRecordSerializer, ToolPolicySerializer
from .base import AdminView


class ToolPolicyViewSet(AdminView, viewsets.ModelViewSet):
    """Admins' overrides of registered tools; every worker and instance applies a change at once."""

    queryset = ToolPolicy.objects.all()
    serializer_class = ToolPolicySerializer
    filterset_class = ToolPolicyFilter
    ordering_fields = ["id", "name", "updated"]


class AuditRecordViewSet(AdminView, viewsets.ReadOnlyModelViewSet):
    """Capability uses on /mcp, newest first: by user, client, tool, outcome and time."""

    queryset = AuditRecord.objects.all()
    serializer_class = AuditRecordSerializer
    filterset_class = AuditRecordFilter
    pagination_class = AuditCursor
    filter_backends = [DjangoFilterBackend]  # cursor pages keep their own order: newest first

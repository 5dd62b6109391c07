"""The MCP server's tool policies and audit records."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from mcpserver.models import AuditRecord, ToolPolicy

from .fields import SpaceSeparated


class ToolPolicySerializer(serializers.ModelSerializer):
    """An admin's override of one registered tool. ``scopes`` and ``roles``: null keeps the tool's own,
    a list replaces them (an empty ``scopes`` list: no scope besides ``mcp:tools``)."""

    name = serializers.ChoiceField(  # choices: the registered tools, when the serializer is made
        choices=[], validators=[UniqueValidator(queryset=ToolPolicy.objects.all())]
    )
    scopes = SpaceSeparated(allow_null=True, required=False, joined_max_length=500)
    roles = SpaceSeparated(allow_null=True, required=False, joined_max_length=500)

    class Meta:
        model = ToolPolicy
        fields = ["id", "name", "enabled", "scopes", "roles", "updated"]
        read_only_fields = ["updated"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        registry = apps.get_app_config("mcpserver").registry
        self.fields["name"].choices = sorted(tool.name for tool in registry.all("tool"))


class AuditRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditRecord
        fields = [
            "id", "uuid", "created", "subject", "username", "client_id", "kind", "name", "outcome", "detail",
            "duration_ms", "argument_bytes", "argument_digest", "protocol_version",
        ]  # fmt: skip
        read_only_fields = fields

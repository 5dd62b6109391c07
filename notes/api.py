"""The example app's REST API, protected by this server's tokens (``mcpserver.rest``): the same token a
client holds for ``/mcp`` reads and writes the same notes, under the same rules.

``GET /api/notes/`` (``?search=``) and ``GET /api/notes/<key>/`` need ``mcp:read`` and show the notes
the caller may read; ``POST``, ``PATCH``, ``PUT`` and ``DELETE`` also need ``mcp:tools`` and the role
``user`` or ``admin``, and touch the caller's own notes only. A note the caller may not see is a 404.
"""

from __future__ import annotations

from rest_framework import serializers, viewsets
from rest_framework.pagination import CursorPagination

from mcpserver.rest import BearerAuthentication, HasRole, HasScopes

from .models import Note

READ_SCOPES = ("mcp:read",)
WRITE_SCOPES = ("mcp:read", "mcp:tools")
WRITE_ROLES = ("user", "admin")


class NoteSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.get_username", read_only=True)

    class Meta:
        model = Note
        fields = ["key", "title", "body", "owner", "created", "updated"]
        read_only_fields = ["key", "owner", "created", "updated"]


class NewestFirst(CursorPagination):
    ordering = ("-updated", "-id")
    page_size = 20


class NoteViewSet(viewsets.ModelViewSet):
    """Notes: yours to read and write; every note to read for the ``admin`` role."""

    serializer_class = NoteSerializer
    authentication_classes = [BearerAuthentication]
    lookup_field = "key"
    pagination_class = NewestFirst

    def get_permissions(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [HasScopes(*READ_SCOPES)]
        return [HasScopes(*WRITE_SCOPES), HasRole(*WRITE_ROLES)]

    def get_queryset(self):
        # A client's own token (client credentials) has no user: it sees and owns no note.
        user = self.request.user if getattr(self.request.user, "pk", None) else None
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            notes = Note.objects.visible_to(user)
            text = self.request.query_params.get("search", "")
            return notes.search(text) if text else notes.select_related("owner")
        return Note.objects.owned_by(user).select_related("owner")

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)

"""DRF serializers and ViewSets as tools, over the example app's notes (test-only; ``test_drf``)."""

from __future__ import annotations

from rest_framework import filters, pagination, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from mcpserver.drf import expose_viewset
from mcpserver.registry import ToolError, tool
from notes.models import Note


class NoteSerializer(serializers.ModelSerializer):
    owner = serializers.ReadOnlyField(source="owner.username")
    # Never written back: the output schema leaves it out.
    reason = serializers.CharField(write_only=True, required=False, help_text="Why the change.")

    class Meta:
        model = Note
        fields = ["key", "title", "body", "owner", "created", "updated", "reason"]

    def create(self, validated_data):
        validated_data.pop("reason", None)
        return super().create(validated_data)

    def update(self, instance, validated_data):
        validated_data.pop("reason", None)
        return super().update(instance, validated_data)


class TagSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=20)


class NewNoteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, help_text="A short title.")
    body = serializers.CharField(required=False, allow_blank=True, default="")
    tags = TagSerializer(many=True, required=False)
    owner = serializers.HiddenField(default=serializers.CurrentUserDefault())

    def validate_title(self, value):
        if value.lower() == "forbidden":
            raise serializers.ValidationError("That title is not allowed.")
        return value


class SearchSerializer(serializers.Serializer):
    text = serializers.CharField(allow_blank=True, max_length=100)
    limit = serializers.IntegerField(min_value=1, max_value=50, default=10)


@tool(input=NewNoteSerializer, output=NoteSerializer)
def add_note(ctx, note):
    """Add a note of yours.

    Args:
        note: what NewNoteSerializer validated.
    """
    note.pop("tags", None)
    if ctx.user is None:
        raise ToolError("Only a user can add notes.")
    return Note.objects.create(**note)


@tool(input=SearchSerializer, output=NoteSerializer(many=True))
def find_notes(ctx, query):
    """Find your notes."""
    return list(Note.objects.visible_to(ctx.user).search(query["text"])[: query["limit"]])


class PrivateBodySerializer(NoteSerializer):
    """Shows the body to its owner only: fields that depend on the request, built for each call."""

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is None or request.user.username != "alice":
            fields.pop("body")
        return fields


@tool(output=PrivateBodySerializer(many=True))
def alice_notes(ctx):
    """Alice's notes, with their bodies for Alice only."""
    return Note.objects.filter(owner__username="alice").order_by("title")


class TwoPerPage(pagination.PageNumberPagination):
    page_size = 2


class TokenAllowsTools(permissions.BasePermission):
    """Reads the token through ``request.auth`` as this server's DRF permission classes do."""

    def has_permission(self, request, view):
        return request.auth is not None and "mcp:tools" in request.auth.scopes


class OwnerOrReadOnly(permissions.BasePermission):
    def has_object_permission(self, request, view, obj):
        return request.method in permissions.SAFE_METHODS or obj.owner == request.user


class NoteViewSet(viewsets.ModelViewSet):
    """Notes through the REST framework."""

    serializer_class = NoteSerializer
    queryset = Note.objects.all()  # for DjangoModelPermissions; the caller's own come from get_queryset
    lookup_field = "key"
    pagination_class = TwoPerPage
    permission_classes = [
        permissions.IsAuthenticated,
        TokenAllowsTools,
        permissions.DjangoModelPermissions,
        OwnerOrReadOnly,
    ]
    filter_backends = [filters.SearchFilter, filters.OrderingFilter]
    search_fields = ["title"]
    ordering_fields = ["title", "created"]
    ordering = ["title"]

    def get_queryset(self):
        return Note.objects.visible_to(self.request.user).order_by("title")

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)

    def get_serializer(self, *args, **kwargs):
        if self.action == "mine":  # a list, as drf-spectacular sees (and says) from the serializer
            kwargs.setdefault("many", True)
        return super().get_serializer(*args, **kwargs)

    @action(detail=False, methods=["get"], pagination_class=None)
    def mine(self, request):
        """The caller's own notes, every one of them."""
        notes = Note.objects.owned_by(request.user).order_by("title")
        return Response(self.get_serializer(notes).data)

    @action(detail=True, methods=["post"])
    def crash(self, request, key=None):
        return Response({"detail": "down"}, status=503)

    @action(detail=False, methods=["get"], pagination_class=None)
    def titles(self, request):
        """Your titles (a list, where drf-spectacular, told nothing, sees one note)."""
        return Response(self.get_serializer(self.get_queryset(), many=True).data)


class Newest(pagination.CursorPagination):
    page_size = 2
    ordering = "-created"


class FeedViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = NoteSerializer
    pagination_class = Newest
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        return Note.objects.visible_to(self.request.user)


notes_tools = expose_viewset(
    NoteViewSet,
    prefix="notes",
    actions=["list", "retrieve", "create", "partial_update", "destroy", "mine", "crash", "titles"],
    descriptions={"crash": "Always fails."},
)
feed_tools = expose_viewset(FeedViewSet, prefix="feed")


class CrashingSerializer(serializers.Serializer):
    """A serializer whose own validation code has a bug (not a ValidationError)."""

    text = serializers.CharField()

    def validate(self, attrs):
        raise RuntimeError("a bug in the author's validate()")


@tool(input=CrashingSerializer)
def crashing_validation(ctx, data):
    """Never reached."""
    return "unreachable"

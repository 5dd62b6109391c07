"""Initial access tokens (RFC 7591 §3): their records, and the value of a new one, shown once."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from authserver import registration
from authserver.models import InitialAccessToken

MAX_USES = 2**31 - 1  # what every database's integer column holds


class InitialAccessTokenSerializer(serializers.ModelSerializer):
    """What a token is for, who made it, until when and how many registrations it allows; never its
    value nor its checksum. ``usable``: it may still register a client (unexpired, uses left)."""

    created_by_username = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)
    usable = serializers.BooleanField(source="is_usable", read_only=True)
    max_uses = serializers.IntegerField(
        min_value=1, max_value=MAX_USES, required=False, allow_null=True,
        help_text="How many clients it may register; null: no limit.",
    )  # fmt: skip
    expires_at = serializers.DateTimeField(required=False, allow_null=True, help_text="null: never expires.")

    class Meta:
        model = InitialAccessToken
        fields = [
            "id", "description", "expires_at", "max_uses", "uses", "usable", "created", "created_by",
            "created_by_username",
        ]  # fmt: skip
        read_only_fields = ["uses", "created", "created_by"]


class NewInitialAccessTokenSerializer(InitialAccessTokenSerializer):
    """A token just created: ``initial_access_token`` is its value, in this answer only (the server
    keeps its SHA-256 checksum). A client sends it as ``Authorization: Bearer …`` to ``/oauth/register/``."""

    initial_access_token = serializers.CharField(source="value", read_only=True)

    class Meta(InitialAccessTokenSerializer.Meta):
        fields = [*InitialAccessTokenSerializer.Meta.fields, "initial_access_token"]


class InitialAccessTokenCreateSerializer(InitialAccessTokenSerializer):
    """A new token: what it is for, and optionally when it expires (in the future) and how many
    clients it may register. Issued by ``authserver.registration``, as the admin issues one."""

    def validate_expires_at(self, value: Any) -> Any:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("This moment has passed: the token could register nothing.")
        return value

    def create(self, validated_data: dict[str, Any]) -> InitialAccessToken:
        token, value = registration.issue_initial_access_token(
            created_by=self.context["request"].user, **validated_data
        )
        token.value = value  # the plain value, for this one answer only
        return token

    def to_representation(self, instance: InitialAccessToken) -> dict[str, Any]:
        return NewInitialAccessTokenSerializer(instance, context=self.context).data

"""Trusted identity providers (ID-JAG issuers) and the subjects linked to local users."""

from __future__ import annotations

from typing import Any

from oauth2_provider.models import get_application_model
from rest_framework import serializers

from authserver.models import FederatedIdentity, IdentityProvider, Role, User

from .fields import ByName


class ByClientId(serializers.SlugRelatedField):
    """A client named by its ``client_id``; a NUL character is refused before any query (PostgreSQL)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="client_id", **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class IdentityProviderSerializer(serializers.ModelSerializer):
    """A provider: its ``issuer`` and ``jwks_uri`` (https URLs), the clients (by ``client_id``) that may
    exchange its assertions, how a subject becomes a user, whether unknown subjects become new users and
    with which roles (by name)."""

    clients = ByClientId(many=True, queryset=get_application_model().objects.all(), required=False)
    new_user_roles = ByName(many=True, queryset=Role.objects.all(), required=False)

    class Meta:
        model = IdentityProvider
        fields = [
            "id", "name", "issuer", "jwks_uri", "clients", "subject_mapping", "create_users",
            "new_user_roles", "enabled", "created",
        ]  # fmt: skip
        read_only_fields = ["created"]


class FederatedIdentitySerializer(serializers.ModelSerializer):
    """A provider's subject (``sub``) linked to a local user (by id; ``username`` shown)."""

    provider = serializers.PrimaryKeyRelatedField(queryset=IdentityProvider.objects.all())
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = FederatedIdentity
        fields = ["id", "provider", "subject", "user", "username", "created"]
        read_only_fields = ["created"]

"""``identity-providers`` and ``federated-identities``: the trust behind the jwt-bearer grant (ID-JAG)."""

from __future__ import annotations

from rest_framework import viewsets

from authserver.models import FederatedIdentity, IdentityProvider

from ..filters import FederatedIdentityFilter, IdentityProviderFilter
from ..serializers.federation import FederatedIdentitySerializer, IdentityProviderSerializer
from .base import AdminView


class IdentityProviderViewSet(AdminView, viewsets.ModelViewSet):
    """Identity providers whose assertions the listed clients exchange for tokens. Disabling one refuses
    its assertions at once; tokens already issued live out their (short) lifetime."""

    queryset = IdentityProvider.objects.prefetch_related("clients")
    serializer_class = IdentityProviderSerializer
    filterset_class = IdentityProviderFilter
    ordering_fields = ["id", "name"]


class FederatedIdentityViewSet(AdminView, viewsets.ModelViewSet):
    """Which local user a provider's subject is: linked here, or on first use by the provider's mapping."""

    queryset = FederatedIdentity.objects.select_related("provider", "user")
    serializer_class = FederatedIdentitySerializer
    filterset_class = FederatedIdentityFilter
    ordering_fields = ["id", "subject", "created"]

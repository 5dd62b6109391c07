"""``clients`` (with ``rotate-secret``), ``tokens`` (DELETE revokes) and ``consents`` (DELETE withdraws)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from oauth2_provider.models import get_application_model
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from authserver import clients, consents, revoking
from authserver.models import Consent, access_tokens

from .. import audit
from ..filters import ClientFilter, ConsentFilter, TokenFilter
from ..serializers.clients import (
    ClientCreateSerializer,
    ClientSerializer,
    ConsentSerializer,
    NewClientSerializer,
    SecretSerializer,
    TokenSerializer,
)
from .base import AdminView


class ClientViewSet(AdminView, viewsets.ModelViewSet):
    """OAuth clients, their scope ceiling and switches. Deleting a client revokes its tokens."""

    queryset = get_application_model().objects.select_related("policy").prefetch_related("policy__scopes")
    serializer_class = ClientSerializer
    filterset_class = ClientFilter
    ordering_fields = ["id", "name", "client_id", "created"]

    def get_serializer_class(self) -> type:
        return ClientCreateSerializer if self.action == "create" else ClientSerializer

    @extend_schema(request=ClientCreateSerializer, responses={201: NewClientSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Create a client; a confidential client's secret is in this answer only."""
        return super().create(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: SecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        """Give a confidential client a new secret, shown in this answer only (stored hashed)."""
        application = self.get_object()
        with transaction.atomic():
            try:
                secret = clients.rotate_secret(application)
            except clients.ClientError as exc:
                return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
            audit.record(request, application, audit.CHANGE, "Rotated the client secret")
        return Response(SecretSerializer({"client_id": application.client_id, "client_secret": secret}).data)


class TokenViewSet(AdminView, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                   viewsets.GenericViewSet):  # fmt: skip
    """Access tokens (never their values). DELETE revokes one, with its refresh token: every worker
    and instance refuses it from its next request on."""

    queryset = access_tokens().select_related("user", "application")
    serializer_class = TokenSerializer
    filterset_class = TokenFilter
    ordering_fields = ["id", "expires", "created"]

    def perform_destroy(self, instance: Any) -> None:
        with transaction.atomic():
            name = f"access token {instance.pk}"  # a token row's own str() is its (empty) value column
            audit.record(self.request, instance, audit.DELETION, "Revoked", object_repr=name)
            revoking.revoke_access_token(instance)


class ConsentViewSet(AdminView, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                     viewsets.GenericViewSet):  # fmt: skip
    """Users' remembered consents. DELETE withdraws one and revokes that client's tokens for that user."""

    queryset = Consent.objects.select_related("user", "application").prefetch_related("scopes")
    serializer_class = ConsentSerializer
    filterset_class = ConsentFilter
    ordering_fields = ["id", "updated"]

    def perform_destroy(self, instance: Any) -> None:
        with transaction.atomic():
            audit.record(self.request, instance, audit.DELETION, "Withdrew the consent")
            consents.withdraw(instance)

"""``initial-access-tokens``: the tokens that let clients register under ``DCR_POLICY=token`` (RFC 7591 §3).

Created here as in the admin (``authserver.registration``): the value is in the creation's answer only.
``revoke`` ends one and keeps its record; DELETE removes it. Either way its value registers nothing more;
clients it registered stay.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from authserver.models import InitialAccessToken

from .. import audit
from ..filters import InitialAccessTokenFilter
from ..serializers.registration import (
    InitialAccessTokenCreateSerializer,
    InitialAccessTokenSerializer,
    NewInitialAccessTokenSerializer,
)
from .base import AdminView


class InitialAccessTokenViewSet(AdminView, viewsets.ModelViewSet):
    """Initial access tokens: their records (never their values), filtered by ``usable``, ``expired``,
    ``used`` and ``used_up``."""

    queryset = InitialAccessToken.objects.select_related("created_by")
    serializer_class = InitialAccessTokenSerializer
    filterset_class = InitialAccessTokenFilter
    ordering_fields = ["id", "created", "expires_at", "uses"]

    def get_serializer_class(self) -> type:
        return InitialAccessTokenCreateSerializer if self.action == "create" else InitialAccessTokenSerializer

    @extend_schema(
        request=InitialAccessTokenCreateSerializer, responses={201: NewInitialAccessTokenSerializer}
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Issue a token; its value is in this answer only (stored as a SHA-256 checksum)."""
        return super().create(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: InitialAccessTokenSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """End a token now (it expires now, if it would later or never); its record and use count stay."""
        token = self.get_object()
        now = timezone.now()
        if token.expires_at is None or token.expires_at > now:
            with transaction.atomic():
                token.expires_at = now
                token.save(update_fields=["expires_at"])
                audit.record(request, token, audit.CHANGE, "Revoked")
        return Response(InitialAccessTokenSerializer(token, context=self.get_serializer_context()).data)

"""``signing-keys``: read, ``rotate`` (a new current key) and ``retire`` (withdraw one as compromised)."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from authserver import keys
from authserver.models import SigningKey

from .. import audit
from ..serializers.keys import RotationSerializer, SigningKeySerializer
from .base import AdminView


class SigningKeyViewSet(AdminView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The keys that sign access tokens: their public JWK and state, never the private key."""

    queryset = SigningKey.objects.all()
    serializer_class = SigningKeySerializer
    ordering_fields = ["id", "created"]

    @extend_schema(request=RotationSerializer, responses={201: SigningKeySerializer})
    @action(detail=False, methods=["post"])
    def rotate(self, request: Request) -> Response:
        """Make a new key current. Older keys retire and keep verifying until their tokens expire or,
        ``compromised``, are withdrawn at once (every token they signed is refused)."""
        options = RotationSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        compromised = options.validated_data["compromised"]
        with transaction.atomic():
            key = keys.rotate(compromised=compromised)
            how = "Rotated, older keys withdrawn as compromised" if compromised else "Rotated"
            audit.record(request, key, audit.ADDITION, how)
        return Response(SigningKeySerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: SigningKeySerializer})
    @action(detail=True, methods=["post"])
    def retire(self, request: Request, pk: str | None = None) -> Response:
        """Withdraw a retired key as compromised: out of the JWKS, its tokens refused from the next
        request on. The current key cannot go this way (rotate it as compromised instead): 400."""
        key = self.get_object()
        with transaction.atomic():
            try:
                keys.retire_compromised([key])
            except keys.RetirementRefused as exc:
                return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
            audit.record(request, key, audit.CHANGE, "Withdrawn as compromised")
        key.refresh_from_db()
        return Response(SigningKeySerializer(key).data)

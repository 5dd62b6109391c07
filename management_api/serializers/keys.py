"""Signing keys: their public half and their state; the private key never leaves ``authserver.keys``."""

from __future__ import annotations

from rest_framework import serializers

from authserver.models import SigningKey


class SigningKeySerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()

    class Meta:
        model = SigningKey
        fields = [
            "id", "kid", "algorithm", "public_jwk", "status", "created", "retired_at", "verify_until",
            "compromised_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_status(self, key: SigningKey) -> str:
        """``active`` (signs and verifies), ``retired`` (verifies until ``verify_until``) or ``withdrawn``
        (retired as compromised: verifies nothing)."""
        if key.compromised_at:
            return "withdrawn"
        return "retired" if key.retired_at else "active"


class RotationSerializer(serializers.Serializer):
    """``compromised``: withdraw every older key at once (their tokens are refused) instead of letting
    them verify until their tokens expire."""

    compromised = serializers.BooleanField(default=False)

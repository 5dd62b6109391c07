"""Users and their roles, roles and their scopes, scopes."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from authserver.models import Role, Scope, User

from .fields import ByName

SIMILAR = ("username", "email", "first_name", "last_name")


class UserSerializer(serializers.ModelSerializer):
    """A user; ``password`` is write-only (validated by the project's password validators, stored
    hashed; a user created without one cannot sign in with a password). Superuser status stays a
    matter for the Django admin."""

    roles = ByName(many=True, queryset=Role.objects.all(), required=False)
    password = serializers.CharField(
        write_only=True,
        required=False,
        trim_whitespace=False,
        max_length=128,
        style={"input_type": "password"},
    )

    class Meta:
        model = User
        fields = [
            "id", "username", "email", "first_name", "last_name", "is_active", "is_staff", "is_superuser",
            "roles", "date_joined", "last_login", "password",
        ]  # fmt: skip
        read_only_fields = ["is_superuser", "date_joined", "last_login"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "password" in attrs:
            # Who the user will be, for the validators that compare the password with it.
            known = {name: getattr(self.instance, name) for name in SIMILAR} if self.instance else {}
            candidate = User(**{**known, **{name: attrs[name] for name in SIMILAR if name in attrs}})
            try:
                password_validation.validate_password(attrs["password"], candidate)
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs

    def create(self, validated_data: dict[str, Any]) -> User:
        password = validated_data.pop("password", None)
        roles = validated_data.pop("roles", [])
        user = User(**validated_data)
        user.set_password(password) if password else user.set_unusable_password()
        user.save()
        user.roles.set(roles)
        return user

    def update(self, instance: User, validated_data: dict[str, Any]) -> User:
        password = validated_data.pop("password", None)
        if password:
            instance.set_password(password)
        return super().update(instance, validated_data)


class RoleSerializer(serializers.ModelSerializer):
    """A role and the scopes it grants (by name); taking a scope from a role revokes the tokens that
    carry it (``authserver.entitlements``)."""

    scopes = ByName(many=True, queryset=Scope.objects.all(), required=False)

    class Meta:
        model = Role
        fields = ["id", "name", "description", "scopes"]


class ScopeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Scope
        fields = ["id", "name", "description", "is_default", "role_only"]

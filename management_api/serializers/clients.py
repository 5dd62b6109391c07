"""Clients (DOT applications) with their policy, their access tokens, and users' consents."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from oauth2_provider.models import get_access_token_model, get_application_model
from rest_framework import serializers

from authserver import clients, grants
from authserver.models import ClientPolicy, Consent, Scope

from .fields import ByName, SpaceSeparated

Application = get_application_model()


def policy_of(application) -> ClientPolicy | None:
    try:
        return application.policy
    except ClientPolicy.DoesNotExist:
        return None


class FromPolicy:
    """A value of the client's policy, shown flat on the client (without a policy: the model's default)."""

    def get_attribute(self, instance: Any) -> Any:
        name = self.source_attrs[-1]
        policy = policy_of(instance)
        if policy:
            return getattr(policy, name)
        field = ClientPolicy._meta.get_field(name)
        return field.default if field.has_default() else None


class PolicyFlag(FromPolicy, serializers.BooleanField):
    pass


class PolicySeconds(FromPolicy, serializers.IntegerField):
    pass


class PolicyValue(serializers.Field):
    """A value of the client's policy, shown flat on the client (without a policy: the model's default)."""

    def get_attribute(self, instance: Any) -> Any:
        name = self.source_attrs[-1]
        policy = policy_of(instance)
        return getattr(policy, name) if policy else ClientPolicy._meta.get_field(name).get_default()


class PolicyAuthMethod(PolicyValue, serializers.ChoiceField):
    """How the client authenticates at the token, introspection and revocation endpoints."""


class PolicyJWKS(PolicyValue, serializers.JSONField):
    """private_key_jwt: the client's JWK Set of public keys."""


class PolicyJWKSURI(PolicyValue, serializers.URLField):
    """private_key_jwt: the https URL of the client's JWK Set."""


class PolicyAudiences(FromPolicy, serializers.ListField):
    """RFC 8693: the absolute URIs the client may exchange users' tokens for; empty: no token exchange."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.URLField(max_length=500))
        super().__init__(**kwargs)

    def to_representation(self, data: Any) -> list[str]:
        return data.split() if isinstance(data, str) else list(data or [])


class Ceiling(serializers.ListField):
    """The client's scope ceiling, by scope name."""

    child = ByName(queryset=Scope.objects.all())

    def get_attribute(self, instance: Any) -> list[Scope]:
        policy = policy_of(instance)
        return sorted(policy.scopes.all(), key=lambda scope: scope.name) if policy else []


def _refused(exc: Exception) -> serializers.ValidationError:
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else list(exc.messages)
        return serializers.ValidationError(detail)
    return serializers.ValidationError({"detail": str(exc)})


class ClientSerializer(serializers.ModelSerializer):
    """A client, its ceiling (``scopes``) and switches; the grant and client type are fixed at creation.
    Disabling a client revokes its tokens; the secret is never shown (see ``rotate-secret``)."""

    grant_type = serializers.CharField(source="authorization_grant_type", read_only=True)
    redirect_uris = SpaceSeparated(required=False)
    allowed_origins = SpaceSeparated(required=False)
    scopes = Ceiling(source="policy.scopes", required=False)
    enabled = PolicyFlag(source="policy.enabled", required=False)
    may_introspect = PolicyFlag(source="policy.may_introspect", required=False)
    dpop_bound_access_tokens = PolicyFlag(source="policy.dpop_bound_access_tokens", required=False)
    token_endpoint_auth_method = PolicyAuthMethod(
        choices=[ClientPolicy.SECRET, ClientPolicy.PRIVATE_KEY_JWT],
        source="policy.token_endpoint_auth_method",
        read_only=True,
    )  # fmt: skip
    jwks = PolicyJWKS(source="policy.jwks", required=False, allow_null=True)
    jwks_uri = PolicyJWKSURI(source="policy.jwks_uri", required=False, allow_blank=True, max_length=500)
    refresh_grace_seconds = PolicySeconds(
        source="policy.refresh_grace_seconds", required=False, allow_null=True, min_value=0,
        help_text="This client's refresh grace window in seconds: null is the server's "
        "(OAUTH_REFRESH_GRACE_SECONDS), 0 none; at most the server's.",
    )  # fmt: skip
    token_exchange_audiences = PolicyAudiences(
        source="policy.token_exchange_audiences", required=False,
        help_text="RFC 8693 token exchange: the absolute URIs (audience or resource) this confidential "
        "client may exchange users' access tokens for; empty: it may not exchange tokens.",
    )  # fmt: skip

    class Meta:
        model = Application
        fields = [
            "id", "client_id", "name", "client_type", "grant_type", "redirect_uris", "allowed_origins",
            "registration_source", "scopes", "enabled", "may_introspect", "dpop_bound_access_tokens",
            "token_endpoint_auth_method", "jwks", "jwks_uri", "refresh_grace_seconds", "token_exchange_audiences",
            "created", "updated",
        ]  # fmt: skip
        read_only_fields = ["client_id", "client_type", "registration_source", "created", "updated"]

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        policy = validated_data.pop("policy", {})
        try:
            clients.update_client(instance, **policy, **validated_data)
        except (DjangoValidationError, clients.ClientError) as exc:
            raise _refused(exc) from exc
        return Application.objects.select_related("policy").get(pk=instance.pk)


class NewClientSerializer(ClientSerializer):
    """A client just created: its secret is shown this once (null for a public client)."""

    client_secret = serializers.CharField(source="new_client_secret", read_only=True, allow_null=True)

    class Meta(ClientSerializer.Meta):
        fields = [*ClientSerializer.Meta.fields, "client_secret"]


class ClientCreateSerializer(serializers.Serializer):
    """What a new client is: ``authserver.clients.create_client``'s arguments."""

    name = serializers.CharField(max_length=255)
    grant_type = serializers.ChoiceField(choices=grants.APPLICATION_GRANTS)
    public = serializers.BooleanField(default=False)
    client_id = serializers.CharField(max_length=100, required=False)
    redirect_uris = serializers.ListField(child=serializers.CharField(max_length=500), default=list)
    allowed_origins = serializers.ListField(child=serializers.CharField(max_length=500), default=list)
    scopes = serializers.ListField(child=ByName(queryset=Scope.objects.all()))
    may_introspect = serializers.BooleanField(default=False)
    dpop_bound_access_tokens = serializers.BooleanField(default=False)
    jwks = serializers.JSONField(
        required=False, help_text="private_key_jwt: the client's JWK Set of public keys (then no secret)."
    )
    jwks_uri = serializers.URLField(
        required=False, max_length=500, help_text="private_key_jwt: the https URL of its JWK Set (no secret)."
    )
    refresh_grace_seconds = serializers.IntegerField(min_value=0, allow_null=True, default=None)
    token_exchange_audiences = serializers.ListField(
        child=serializers.URLField(max_length=500), default=list,
        help_text="RFC 8693: the absolute URIs it may exchange users' access tokens for (confidential clients).",
    )  # fmt: skip

    def validate_grant_type(self, value: str) -> str:
        if value not in grants.application_grants():
            raise serializers.ValidationError(f"This server does not offer the {value} grant.")
        return value

    def create(self, validated_data: dict[str, Any]) -> Any:
        data = dict(validated_data)
        grant, scopes = data.pop("grant_type"), [scope.name for scope in data.pop("scopes")]
        try:
            made = clients.create_client(grant=grant, scopes=scopes, **data)
        except (DjangoValidationError, clients.ClientError) as exc:
            raise _refused(exc) from exc
        application = Application.objects.select_related("policy").get(pk=made.application.pk)
        application.new_client_secret = made.client_secret  # the plain value, for this one answer only
        return application

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return NewClientSerializer(instance, context=self.context).data


class SecretSerializer(serializers.Serializer):
    """A client's new secret, shown this once."""

    client_id = serializers.CharField()
    client_secret = serializers.CharField()


class TokenSerializer(serializers.ModelSerializer):
    """An access token's record: who, which client, which scopes, until when; never its value."""

    username = serializers.CharField(source="user.username", read_only=True, allow_null=True)
    client_id = serializers.CharField(source="application.client_id", read_only=True, allow_null=True)
    scopes = SpaceSeparated(source="scope", read_only=True)

    class Meta:
        model = get_access_token_model()
        fields = ["id", "user", "username", "application", "client_id", "scopes", "expires", "created"]
        read_only_fields = fields


class ConsentSerializer(serializers.ModelSerializer):
    """A user's remembered approval of scopes for one client and resource."""

    username = serializers.CharField(source="user.username", read_only=True)
    client_id = serializers.CharField(source="application.client_id", read_only=True)
    scopes = serializers.SlugRelatedField(many=True, slug_field="name", read_only=True)

    class Meta:
        model = Consent
        fields = [
            "id", "user", "username", "application", "client_id", "resource", "scopes", "created", "updated",
        ]  # fmt: skip
        read_only_fields = fields

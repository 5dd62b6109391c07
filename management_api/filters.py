"""Query filters of the list endpoints (django-filter), named as the admin thinks of them."""

from __future__ import annotations

from datetime import UTC

import django_filters as filters
from django import forms
from django.db.models import F, Q
from django.utils import timezone
from django_filters.fields import IsoDateTimeField
from oauth2_provider.models import get_access_token_model, get_application_model

from authserver.models import (
    Consent,
    FederatedIdentity,
    IdentityProvider,
    InitialAccessToken,
    Role,
    Scope,
    User,
)  # fmt: skip
from mcpserver.models import AuditRecord, ToolPolicy


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 moment, in UTC: every database takes it, whatever offset it was written with."""

    def to_python(self, value):
        moment = super().to_python(value)
        try:
            return moment.astimezone(UTC) if moment is not None else None
        except (OverflowError, ValueError) as exc:  # e.g. 0001-01-01T00:00+05:00 is before year 1 in UTC
            raise forms.ValidationError("This moment is out of range.", code="invalid") from exc


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class UserFilter(filters.FilterSet):
    username = filters.CharFilter(lookup_expr="icontains")
    role = filters.CharFilter(field_name="roles__name", help_text="Users holding the role of this name.")

    class Meta:
        model = User
        fields = ["username", "role", "is_active", "is_staff"]


class RoleFilter(filters.FilterSet):
    scope = filters.CharFilter(field_name="scopes__name", help_text="Roles granting the scope of this name.")

    class Meta:
        model = Role
        fields = ["name", "scope"]


class ScopeFilter(filters.FilterSet):
    class Meta:
        model = Scope
        fields = ["name", "is_default", "role_only"]


class ClientFilter(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains")
    enabled = filters.BooleanFilter(field_name="policy__enabled")
    grant_type = filters.CharFilter(field_name="authorization_grant_type")

    class Meta:
        model = get_application_model()
        fields = ["client_id", "name", "registration_source", "grant_type", "enabled"]


class ByUserAndClient(filters.FilterSet):
    """``user`` and ``client`` by primary key, ``username`` and ``client_id`` by name."""

    username = filters.CharFilter(field_name="user__username")
    client = filters.ModelChoiceFilter(
        field_name="application", queryset=get_application_model().objects.all(), help_text="The client's id."
    )
    client_id = filters.CharFilter(field_name="application__client_id")


class TokenFilter(ByUserAndClient):
    active = filters.BooleanFilter(method="filter_active", help_text="Unexpired tokens (false: expired).")

    class Meta:
        model = get_access_token_model()
        fields = ["user", "username", "client", "client_id", "active"]

    def filter_active(self, queryset, name, value):
        now = timezone.now()
        return queryset.filter(expires__gt=now) if value else queryset.filter(expires__lte=now)


class ConsentFilter(ByUserAndClient):
    class Meta:
        model = Consent
        fields = ["user", "username", "client", "client_id", "resource"]


class IdentityProviderFilter(filters.FilterSet):
    client_id = filters.CharFilter(field_name="clients__client_id", help_text="Providers listing the client.")

    class Meta:
        model = IdentityProvider
        fields = ["name", "issuer", "enabled", "client_id"]


class FederatedIdentityFilter(filters.FilterSet):
    username = filters.CharFilter(field_name="user__username")

    class Meta:
        model = FederatedIdentity
        fields = ["provider", "subject", "user", "username"]


class InitialAccessTokenFilter(filters.FilterSet):
    description = filters.CharFilter(lookup_expr="icontains")
    usable = filters.BooleanFilter(
        method="filter_usable", help_text="Tokens that may still register a client (false: expired, used up)."
    )
    expired = filters.BooleanFilter(
        method="filter_expired", help_text="Tokens past their expiry (false: unexpired or never expiring)."
    )
    used = filters.BooleanFilter(
        method="filter_used", help_text="Tokens that registered a client at least once (false: never)."
    )
    used_up = filters.BooleanFilter(
        method="filter_used_up", help_text="Tokens that registered as many clients as they may."
    )

    class Meta:
        model = InitialAccessToken
        fields = ["description", "created_by", "usable", "expired", "used", "used_up"]

    def filter_usable(self, queryset, name, value):
        usable = InitialAccessToken.objects.usable().values("pk")
        return queryset.filter(pk__in=usable) if value else queryset.exclude(pk__in=usable)

    def filter_expired(self, queryset, name, value):
        expired = Q(expires_at__lte=timezone.now())
        return queryset.filter(expired) if value else queryset.exclude(expired)

    def filter_used(self, queryset, name, value):
        return queryset.filter(uses__gt=0) if value else queryset.filter(uses=0)

    def filter_used_up(self, queryset, name, value):
        used_up = Q(max_uses__isnull=False, uses__gte=F("max_uses"))
        return queryset.filter(used_up) if value else queryset.exclude(used_up)


class ToolPolicyFilter(filters.FilterSet):
    class Meta:
        model = ToolPolicy
        fields = ["name", "enabled"]


class AuditRecordFilter(filters.FilterSet):
    user = filters.CharFilter(field_name="username", help_text="The caller's username.")
    client = filters.CharFilter(field_name="client_id", help_text="The client_id of the caller's token.")
    tool = filters.CharFilter(method="filter_tool", help_text="Calls of the tool of this name.")
    since = UtcDateTimeFilter(field_name="created", lookup_expr="gte")
    until = UtcDateTimeFilter(field_name="created", lookup_expr="lt")

    class Meta:
        model = AuditRecord
        fields = ["user", "subject", "client", "tool", "kind", "name", "outcome", "since", "until"]

    def filter_tool(self, queryset, name, value):
        return queryset.filter(kind="tool", name=value)

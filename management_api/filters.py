"""Query filters of the list endpoints (django-filter), named as the admin thinks of them."""

from __future__ import annotations

import django_filters as filters
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from authserver.models import Consent, Role, Scope, User
from mcpserver.models import AuditRecord, ToolPolicy


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
    client = filters.ModelChoiceFilter(field_name="application", queryset=get_application_model().objects.all())
    client_id = filters.CharFilter(field_name="application__client_id")


class TokenFilter(ByUserAndClient):
    active = filters.BooleanFilter(method="filter_active", help_text="Only tokens not yet expired (or only expired).")

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


class ToolPolicyFilter(filters.FilterSet):
    class Meta:
        model = ToolPolicy
        fields = ["name", "enabled"]


class AuditRecordFilter(filters.FilterSet):
    user = filters.CharFilter(field_name="username", help_text="The caller's username.")
    client = filters.CharFilter(field_name="client_id", help_text="The client_id the caller's token was issued to.")
    tool = filters.CharFilter(method="filter_tool", help_text="Calls of the tool of this name.")
    since = filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    until = filters.IsoDateTimeFilter(field_name="created", lookup_expr="lt")

    class Meta:
        model = AuditRecord
        fields = ["user", "subject", "client", "tool", "kind", "name", "outcome", "since", "until"]

    def filter_tool(self, queryset, name, value):
        return queryset.filter(kind="tool", name=value)

"""``users``, ``roles`` and ``scopes``: plain CRUD; the models' signals revoke what a change withdraws."""

from __future__ import annotations

from rest_framework import viewsets

from authserver.models import Role, Scope, User

from ..filters import RoleFilter, ScopeFilter, UserFilter
from ..serializers.identity import RoleSerializer, ScopeSerializer, UserSerializer
from .base import AdminView


class UserViewSet(AdminView, viewsets.ModelViewSet):
    """Users and their roles. Deactivating a user, or taking a role away, revokes their tokens."""

    queryset = User.objects.prefetch_related("roles")
    serializer_class = UserSerializer
    filterset_class = UserFilter
    ordering_fields = ["id", "username", "date_joined", "last_login"]


class RoleViewSet(AdminView, viewsets.ModelViewSet):
    """Roles and the scopes they grant. Taking a scope from a role revokes the tokens carrying it."""

    queryset = Role.objects.prefetch_related("scopes")
    serializer_class = RoleSerializer
    filterset_class = RoleFilter
    ordering_fields = ["id", "name"]


class ScopeViewSet(AdminView, viewsets.ModelViewSet):
    """The scope catalogue. ``role_only`` scopes reach only users whose roles grant them."""

    queryset = Scope.objects.all()
    serializer_class = ScopeSerializer
    filterset_class = ScopeFilter
    ordering_fields = ["id", "name"]

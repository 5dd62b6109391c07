"""What every management API view shares: authentication, permissions, the rate limit, pages, filters,
audited writes."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.authentication import SessionAuthentication
from rest_framework.filters import OrderingFilter

from mcpserver.rest import BearerAuthentication

from .. import audit
from ..pagination import Pages
from ..permissions import AdminScopes
from ..throttling import CallerRateThrottle


class AdminView:
    """Mixin placed before DRF's viewset classes: bearer tokens first (their challenge answers a 401),
    then the admin's session (with CSRF, DRF's own); a caller let in is then counted against the rate
    limit; each create, update and delete is recorded in the admin's history within its own transaction."""

    authentication_classes = [BearerAuthentication, SessionAuthentication]
    permission_classes = [AdminScopes]
    throttle_classes = [CallerRateThrottle]
    pagination_class = Pages
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering = ["id"]
    lookup_value_regex = "[^/]+"  # any key reaches the view, whose 404 is JSON (Django's own is HTML)

    def perform_create(self, serializer: Any) -> None:
        with transaction.atomic():
            instance = serializer.save()
            audit.record(self.request, instance, audit.ADDITION, "Added")

    def perform_update(self, serializer: Any) -> None:
        # A client's policy fields come nested under "policy".
        items = serializer.validated_data.items()
        names = [name for key, value in items for name in (value if isinstance(value, dict) else [key])]
        changed = ", ".join(sorted(names)) or "nothing"
        with transaction.atomic():
            instance = serializer.save()
            audit.record(self.request, instance, audit.CHANGE, f"Changed {changed}")

    def perform_destroy(self, instance: Any) -> None:
        with transaction.atomic():
            audit.record(self.request, instance, audit.DELETION, "Deleted")
            instance.delete()

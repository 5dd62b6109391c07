"""Remembered consent: what a user has approved for a client, and withdrawing it with the client's tokens."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from . import revocation
from .models import Consent, Scope


def covers(user, application, scopes: Iterable[str]) -> bool:
    """Whether the user already approved every one of these scopes for this client."""
    wanted = set(scopes)
    consent = Consent.objects.for_client(user, application).first()
    return bool(wanted) and consent is not None and wanted <= consent.scope_names()


@transaction.atomic
def remember(user, application, scopes: Iterable[str]) -> Consent:
    """Record an approval; scopes approved earlier for the same client stay approved."""
    consent, _ = Consent.objects.select_for_update().get_or_create(user=user, application=application)
    consent.scopes.add(*Scope.objects.filter(name__in=set(scopes)))
    consent.updated = timezone.now()
    consent.save(update_fields=["updated"])
    return consent


@transaction.atomic
def withdraw(consent: Consent) -> int:
    """Forget the consent and revoke the client's tokens and unused codes for that user.

    Returns the number of tokens revoked; each access token reaches the deny-list that resource
    servers consult.
    """
    revoked = revocation.revoke_tokens(user=consent.user, application=consent.application)
    consent.delete()
    return revoked

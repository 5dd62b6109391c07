"""Remembered consent: what a user has approved for a client, and withdrawing it with the client's tokens."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from . import revoking
from .models import Consent, Scope


def covers(user, application, scopes: Iterable[str], resources: Iterable[str]) -> bool:
    """Whether the user already approved every one of these scopes for this client, for every one of
    these resources (one query)."""
    wanted, needed = set(scopes), set(resources)
    if not wanted or not needed:
        return False
    rows = Consent.objects.for_client(user, application).filter(resource__in=needed)
    approved: dict[str, set[str]] = {}
    for resource, name in rows.values_list("resource", "scopes__name"):
        approved.setdefault(resource, set()).add(name)
    return all(wanted <= approved.get(resource, set()) for resource in needed)


@transaction.atomic
def remember(user, application, scopes: Iterable[str], resources: Iterable[str]) -> list[Consent]:
    """Record an approval for each resource; scopes approved earlier for the same client and resource
    stay approved."""
    chosen = list(Scope.objects.filter(name__in=set(scopes)))
    remembered = []
    for resource in dict.fromkeys(resources):
        consent, _ = Consent.objects.select_for_update().get_or_create(
            user=user, application=application, resource=resource
        )
        consent.scopes.add(*chosen)
        consent.updated = timezone.now()
        consent.save(update_fields=["updated"])
        remembered.append(consent)
    return remembered


@transaction.atomic
def withdraw(consent: Consent) -> int:
    """Forget the consent and revoke the client's tokens and unused codes for that user.

    Returns the number of tokens revoked; each access token reaches the deny-list that resource
    servers consult.
    """
    revoked = revoking.revoke_tokens(user=consent.user, application=consent.application)
    consent.delete()
    return revoked

"""Revoking, the issuer's side: revokes tokens and writes the deny-list that resource servers read.

DOT revokes an access token by deleting its row (revocation endpoint, admin action, refresh-token
reuse detection, user deletion). Every such delete puts the token's SHA-256 checksum on a deny-list
in the shared state (``sharedstate``) until the token would have expired anyway, and announces the
write on the ``revocations`` change feed, so every worker and every instance refuses it on its next
request. The key format is the project-wide ``TOKEN_REVOCATION_PREFIX``.

A signing key withdrawn as compromised is published under the same prefix (``KEYS_WITHDRAWN``, a
value that changes at each withdrawal, announced on the same feed): resource servers read it with
their deny-list lookups and reload their verifying keys when it moves, so forged tokens are refused
on the next request too.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

import sharedstate

from . import keys

DEFAULT_PREFIX = "revoked-token:"
KEYS_WITHDRAWN = "keys-withdrawn"  # under the prefix; mcpserver.denylist reads the same name
TOPIC = "revocations"  # the change feed mcpserver.denylist follows


def cache_key(checksum: str) -> str:
    return getattr(settings, "TOKEN_REVOCATION_PREFIX", DEFAULT_PREFIX) + checksum


def deny(checksum: str, expires, *, using: str | None = None) -> None:
    """Put one token checksum on the deny-list for the rest of its lifetime, and announce it: now and
    again when the current transaction on ``using`` commits.

    No JWT outlives the longest token lifetime, so that caps the entry; rows that live longer
    (DOT's registration access tokens, valid until the year 9999) are never JWTs.
    """
    remaining = int((expires - timezone.now()).total_seconds()) + 60 if expires else 3600
    remaining = min(remaining, keys.max_token_lifetime() + 60)
    if checksum and remaining > 0:
        sharedstate.set(cache_key(checksum), 1, remaining)
        sharedstate.changed(TOPIC, using=using)


def withdraw_keys() -> None:
    """Tell every resource server that verifying keys were withdrawn: they reload them on their next request.

    Published at once and again after the commit: a verifier that reloaded its keys in between (and
    so read them as they were before the commit) reloads them once more.
    """
    _publish_withdrawal()
    transaction.on_commit(_publish_withdrawal, robust=True)


def _publish_withdrawal() -> None:
    # No expiry needed for safety (the keys are out of the JWKS): any change, even to gone, means reload.
    sharedstate.set(cache_key(KEYS_WITHDRAWN), time.time_ns(), None)
    sharedstate.changed(TOPIC)


def revoked_in_database(checksum: str) -> bool:
    """Whether no access token row holds this checksum any more: the database's own answer.

    Every token this server signs is stored, and every revocation deletes its row (expired rows go
    too, which changes nothing: an expired JWT is refused anyway). Resource servers ask this
    (``MCPSERVER["REVOCATION_FALLBACK"]``) only when the deny-list cannot answer for itself.
    """
    return not get_access_token_model().objects.filter(token_checksum=checksum).exists()


def _on_access_token_deleted(sender, instance, using=None, **kwargs) -> None:
    # Published before the delete commits: a rollback leaves a live token refused, never the reverse.
    deny(instance.token_checksum, instance.expires, using=using)


def connect() -> None:
    post_delete.connect(_on_access_token_deleted, sender=get_access_token_model(), dispatch_uid="authserver-deny")


def revoke_access_token(token) -> None:
    """Revoke one access token and the refresh token issued with it (DOT's ``revoke_access_token``, as
    the revocation endpoint and the admin do); deleting its row puts it on the deny-list."""
    from oauth2_provider.models import revoke_access_token as revoke

    revoke(token)


def revoke_tokens(**filters) -> int:
    """Revoke every live refresh and access token (and unused code) matching ``filters``.

    Through DOT's ``revoke()`` (a refresh token takes its access token along), so each revoked
    access token reaches the deny-list. Returns how many tokens were revoked.
    """
    access_tokens = get_access_token_model().objects.filter(**filters)
    refresh_tokens = get_refresh_token_model().objects.filter(**filters, revoked__isnull=True)
    revoked = access_tokens.count() + refresh_tokens.count()
    for refresh in refresh_tokens:
        refresh.revoke()
    for access in access_tokens:
        access.revoke()
    get_grant_model().objects.filter(**filters).delete()
    return revoked

"""Who an identity provider's assertion is about: its ``sub`` linked to a local user
(``FederatedIdentity``), or the local user with its verified ``email``; a new user on first use when
the provider allows it. The one place federated subjects become users."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import IntegrityError, transaction

from .exceptions import InvalidIdentityAssertion
from .models import FederatedIdentity, IdentityProvider, User


def user_for(provider: IdentityProvider, claims: dict[str, Any]) -> User:
    """The active user ``claims`` (a verified assertion's) name at ``provider``; ``InvalidIdentityAssertion``
    when there is none (and none may be created), it is ambiguous, or the user is deactivated."""
    subject = claims["sub"]
    link = FederatedIdentity.objects.select_related("user").filter(provider=provider, subject=subject).first()
    user = link.user if link is not None else _match(provider, claims)
    if user is None and provider.create_users:
        user = _create(provider, claims)
    if user is None:
        raise InvalidIdentityAssertion("The assertion's subject is not a user of this server.")
    if link is None:
        user = _link(provider, subject, user)
    if not user.is_active:
        raise InvalidIdentityAssertion("The assertion's subject is a deactivated user.")
    return user


def verified_email(claims: dict[str, Any]) -> str | None:
    """The assertion's ``email`` when the provider vouches for it (``email_verified`` is true)."""
    email = claims.get("email")
    if claims.get("email_verified") is True and isinstance(email, str) and "@" in email:
        return email
    return None


def _match(provider: IdentityProvider, claims: dict[str, Any]) -> User | None:
    """By email mapping: the one user with the verified email (none when two share it)."""
    email = verified_email(claims)
    if provider.subject_mapping != IdentityProvider.BY_EMAIL or email is None:
        return None
    users = list(User.objects.filter(email__iexact=email)[:2])
    if len(users) > 1:
        raise InvalidIdentityAssertion("The assertion's email belongs to more than one user here.")
    return users[0] if users else None


def _create(provider: IdentityProvider, claims: dict[str, Any]) -> User:
    """A new user for a first-seen subject: no password (they sign in through the provider), the
    provider's ``new_user_roles``."""
    email = verified_email(claims) or ""
    digest = hashlib.sha256(f"{provider.pk}\n{claims['sub']}".encode()).hexdigest()[:20]
    username = (
        email if email and not User.objects.filter(username=email).exists() else f"idp{provider.pk}-{digest}"
    )
    user = User(username=username, email=email)
    user.set_unusable_password()
    user.save()
    user.roles.set(provider.new_user_roles.all())
    return user


def _link(provider: IdentityProvider, subject: str, user: User) -> User:
    """Remember the subject's user, and return the user linked: a parallel first use may have won."""
    try:
        with transaction.atomic():
            FederatedIdentity.objects.create(provider=provider, subject=subject, user=user)
    except IntegrityError:
        return FederatedIdentity.objects.select_related("user").get(provider=provider, subject=subject).user
    return user

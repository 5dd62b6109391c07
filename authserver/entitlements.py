"""Withdrawn access takes effect at once: deactivated users, removed roles and scopes taken from roles.

Each change revokes the affected tokens through ``revoking.revoke_tokens``, which feeds the deny-list
every worker and instance reads, so /mcp refuses them on the next request (DESIGN.md invariant 11).
Policy (the safer choice): a deactivated user, or one who loses a role, loses every token, refresh
tokens and unused codes included; when a role loses scopes, each of the role's users holding an access
token that carries one of them loses all their tokens, even if another role still grants the scope (the
client signs in again and gets what is allowed today). Client-credentials tokens have no user and are never touched.
Changes that bypass model signals (``QuerySet.update()``, raw SQL) revoke nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models.signals import m2m_changed, post_save, pre_delete
from oauth2_provider.models import get_access_token_model

from . import revoking
from .models import Role, Scope, User


def revoke_users(user_ids: Iterable[int]) -> int:
    """Revoke every token of these users; returns how many were revoked."""
    ids = set(user_ids)
    return revoking.revoke_tokens(user_id__in=ids) if ids else 0


def revoke_scopes(role_ids: Iterable[int], scope_names: Iterable[str]) -> int:
    """Revoke the tokens of the roles' users whose access tokens carry any of these scopes."""
    names = set(scope_names)
    users = User.objects.filter(roles__in=set(role_ids)).values("pk")
    tokens = get_access_token_model().objects.filter(user__in=users).values_list("user_id", "scope")
    return revoke_users(user_id for user_id, scope in tokens if names & set(scope.split()))


# --- signal receivers: translate each model change into one of the calls above ---


def _user_saved(sender, instance, update_fields=None, **kwargs) -> None:
    # Revoking for an already inactive user finds nothing to revoke; no read of the old value needed.
    if not instance.is_active and (update_fields is None or "is_active" in update_fields):
        revoke_users([instance.pk])


def _user_roles_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if action == "post_remove":
        revoke_users(pk_set if reverse else [instance.pk])
    elif action == "pre_clear":  # post_clear no longer knows whom the clear touched
        revoke_users(instance.users.values_list("pk", flat=True) if reverse else [instance.pk])


def _role_deleted(sender, instance, **kwargs) -> None:
    revoke_users(instance.users.values_list("pk", flat=True))


def _role_scopes_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if action == "post_remove":
        if reverse:  # scope.roles.remove(role, ...)
            revoke_scopes(pk_set, [instance.name])
        else:
            revoke_scopes([instance.pk], Scope.objects.filter(pk__in=pk_set).values_list("name", flat=True))
    elif action == "pre_clear":
        if reverse:
            revoke_scopes(instance.roles.values_list("pk", flat=True), [instance.name])
        else:
            revoke_scopes([instance.pk], instance.scopes.values_list("name", flat=True))


def _scope_deleted(sender, instance, **kwargs) -> None:
    revoke_scopes(instance.roles.values_list("pk", flat=True), [instance.name])


def connect() -> None:
    post_save.connect(_user_saved, sender=User, dispatch_uid="authserver-user-deactivated")
    m2m_changed.connect(_user_roles_changed, sender=User.roles.through, dispatch_uid="authserver-user-roles")
    pre_delete.connect(_role_deleted, sender=Role, dispatch_uid="authserver-role-deleted")
    m2m_changed.connect(_role_scopes_changed, sender=Role.scopes.through, dispatch_uid="authserver-role-scopes")
    pre_delete.connect(_scope_deleted, sender=Scope, dispatch_uid="authserver-scope-deleted")

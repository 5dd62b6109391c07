"""Scope rules: the database-backed scopes backend for DOT and the effective-scope calculation."""

from __future__ import annotations

from collections.abc import Iterable

from oauth2_provider.scopes import BaseScopes

from .models import Scope


def _ceiling_rows(application) -> dict[str, tuple[bool, bool]]:
    """The client's ceiling as {scope: (is_default, role_only)}, read once per loaded application instance."""
    if application is None:
        return {}
    cached = getattr(application, "_scope_ceiling", None)
    if cached is None:
        # A disabled client's ceiling is empty: every grant narrows to nothing, at no extra query.
        ceiling = Scope.objects.filter(clients__application=application, clients__enabled=True)
        rows = ceiling.values_list("name", "is_default", "role_only")
        cached = {name: (is_default, role_only) for name, is_default, role_only in rows}
        application._scope_ceiling = cached
    return cached


def ceiling(application) -> set[str]:
    """The scopes a client may ever be granted (empty when it has no policy or is disabled)."""
    return set(_ceiling_rows(application))


def effective_scopes(requested: Iterable[str], application, user=None) -> list[str]:
    """Narrow requested scopes to the client's ceiling and, for user grants, the user's roles; a
    client acting for itself (no user) never gets a ``role_only`` scope.

    The order of the request is kept so responses read naturally; unknown names fall away.
    """
    rows = _ceiling_rows(application)
    if user is not None:
        allowed = set(rows) & user.scope_names()
    else:
        allowed = {name for name, (_, role_only) in rows.items() if not role_only}
    seen: list[str] = []
    for name in requested:
        if name in allowed and name not in seen:
            seen.append(name)
    return seen


def within_ceiling(requested: Iterable[str], application) -> list[str]:
    """Narrow requested scopes to the client's ceiling alone, ``role_only`` ones included: a request a
    user decides later (the authorization and device authorization endpoints), whose roles narrow it
    then. The order of the request is kept; unknown names fall away."""
    allowed = ceiling(application)
    return list(dict.fromkeys(name for name in requested if name in allowed))


class DatabaseScopes(BaseScopes):
    """DOT's SCOPES_BACKEND_CLASS: the admin's scope catalogue is the only source of names."""

    def get_all_scopes(self) -> dict[str, str]:
        return dict(Scope.objects.values_list("name", "description"))

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        if application is None:
            return sorted(Scope.objects.names())
        return sorted(ceiling(application))

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        if application is None:
            return sorted(Scope.objects.defaults().names())
        return sorted(name for name, (is_default, _) in _ceiling_rows(application).items() if is_default)

"""DRF permissions on a bearer token's scopes and roles, usable as a class or as a configured instance.

``permission_classes = [HasScopes]`` reads ``required_scopes`` from the view;
``permission_classes = [HasScopes("notes:read")]`` names them itself (DRF calls the instance, which
returns itself). ``HasRole`` likewise, with ``required_roles``. A request authenticated otherwise
(a session, say) has no token: these permissions refuse it.

Both compose with DRF's ``&`` and ``|``. ``HasScopes`` refuses by raising ``InsufficientScope``, so
that its 403 carries the RFC 6750 challenge: in an ``|`` it decides only where it comes last.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from rest_framework.permissions import BasePermission, OperationHolderMixin

from .. import auth, challenges, conf
from .. import exceptions as errors


class InsufficientScope(exceptions.PermissionDenied):
    """403 ``insufficient_scope`` whose ``WWW-Authenticate`` challenge names every scope the operation
    needs (RFC 6750 §3.1); DRF's exception handler sends ``auth_header`` as that header."""

    default_code = "insufficient_scope"

    def __init__(self, required: list[str], scheme: str = "Bearer") -> None:
        error = errors.InsufficientScope(list(required), scheme=scheme)
        super().__init__(error.description, self.default_code)
        self.required = error.required
        self.auth_header = challenges.challenge(error, metadata=conf.rest_audience_is_mcp())


class TokenPermission(OperationHolderMixin, BasePermission):
    """A permission configured by its arguments or, without any, by an attribute of the view."""

    view_attribute = ""

    def __init__(self, *names: str) -> None:
        self.names = tuple(names)

    def __call__(self) -> TokenPermission:
        return self

    def names_for(self, view: Any) -> list[str]:
        names = list(self.names or getattr(view, self.view_attribute, None) or ())
        if not names:
            raise ImproperlyConfigured(
                f"{type(self).__name__} needs names: pass them, "
                f"or set {self.view_attribute} on {type(view).__name__}."
            )
        return names


class HasScopes(TokenPermission):
    """The token carries every one of these scopes; a token short of any is a 403 ``insufficient_scope``."""

    view_attribute = "required_scopes"

    def required(self, request: Any, view: Any) -> list[str]:
        """The scopes this request needs (a subclass may choose them by method)."""
        return self.names_for(view)

    def has_permission(self, request: Any, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, auth.AccessToken):
            return False
        needed = self.required(request, view)
        if token.missing(needed):
            raise InsufficientScope(needed, token.scheme)
        return True


class HasRole(TokenPermission):
    """The token carries any one of these roles (the ``roles`` claim)."""

    view_attribute = "required_roles"

    def has_permission(self, request: Any, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, auth.AccessToken):
            return False
        roles = self.names_for(view)
        # The same text whenever one instance refuses: DRF reads it after has_permission returns.
        self.message = f"This operation needs one of these roles: {', '.join(roles)}."
        return token.has_roles(roles)

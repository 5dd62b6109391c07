"""DRF authentication by RFC 6750 bearer token, verified by ``mcpserver.auth`` as on ``/mcp``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from .. import auth, callers, challenges, conf, issuers
from ..exceptions import InvalidToken
from .permissions import HasScopes

# Where a failed verification waits on the DRF request for ``authenticate_header`` (DRF asks it for the
# challenge after the fact, without the exception).
ERROR_ATTRIBUTE = "bearer_error"


class ServicePrincipal:
    """``request.user`` for a token a client obtained for itself (client_credentials): no user, but an
    authenticated caller, the client. Never staff or superuser, no Django permissions."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = id = None
    username = ""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id

    def __str__(self) -> str:
        return f"client {self.client_id}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ServicePrincipal) and other.client_id == self.client_id

    def __hash__(self) -> int:
        return hash(("ServicePrincipal", self.client_id))

    def get_username(self) -> str:
        return ""

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def has_perms(self, perm_list: Any, obj: Any = None) -> bool:
        return False

    def has_module_perms(self, module: str) -> bool:
        return False


def required_scopes(request: Request) -> list[str]:
    """The scopes the view of this request needs, as its ``HasScopes`` permissions say (for a 401's
    challenge); empty when the view is unknown or names none."""
    view = (getattr(request, "parser_context", None) or {}).get("view")
    if view is None:
        return []
    needed: set[str] = set()
    for permission in view.get_permissions():
        if isinstance(permission, HasScopes):
            needed.update(permission.required(request, view))
    return sorted(needed)


class BearerAuthentication(BaseAuthentication):
    """``Authorization: Bearer <RFC 9068 JWT>`` of this server's issuer, for ``REST_AUDIENCE`` (or
    ``Authorization: DPoP`` with a ``DPoP`` proof of the request's own URI, RFC 9449 §7.1).

    A request without a bearer token is left to the view's other authentication classes; a bad token
    is a 401 whose ``WWW-Authenticate`` challenge says ``invalid_token`` (RFC 6750 §3.1).
    """

    def authenticate(self, request: Request) -> tuple[Any, auth.AccessToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header.strip().partition(" ")[0].lower() not in auth.SCHEMES:
            return None
        try:
            token = auth.authenticate(
                header,
                conf.rest_audience(),
                proof=request.META.get("HTTP_DPOP"),
                method=request.method,
                uri=request.build_absolute_uri(request.path),
            )
            return self.get_user(token), token
        except InvalidToken as exc:
            setattr(request, ERROR_ATTRIBUTE, exc)
            raise AuthenticationFailed(exc.description, code=exc.error) from exc

    def get_user(self, token: auth.AccessToken) -> Any:
        """The caller: the active user whose primary key is the token's ``sub`` (this issuer's user
        tokens name one, with a ``username`` claim), or a ``ServicePrincipal`` when the subject is
        the client itself. Another trusted issuer's token: the user its caller loader finds (by
        username, ``ClaimsLoader``). Override for an issuer with other subjects."""
        if token.username is None and token.subject == token.client_id:
            return ServicePrincipal(token.client_id)
        issuer = issuers.find(token.issuer)
        if issuer is not None and not issuer.own:
            user = callers.loader(token).user(token)
            if user is None:
                raise InvalidToken("The access token's user is unknown or deactivated.")
            return user
        try:
            user = get_user_model().objects.filter(pk=token.subject, is_active=True).first()
        except (ValueError, TypeError, ValidationError):  # a subject that is no primary key
            user = None
        if user is None:
            raise InvalidToken("The access token's user is unknown or deactivated.")
        return user

    def authenticate_header(self, request: Request) -> str:
        error = getattr(request, ERROR_ATTRIBUTE, None) or InvalidToken(token_sent=False)
        return challenges.challenge(error, scope=required_scopes(request), metadata=conf.rest_audience_is_mcp())

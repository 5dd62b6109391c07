"""RFC 8693 token exchange at the token endpoint: the oauthlib grant handler oauthlib does not ship.

The handler owns the shape of the request and the order of the checks: the client authenticates (only a
confidential client may exchange), it is allowed the grant, the subject token is one this server issued
and still live, the targets are on the client's allow-list, the scopes narrow. What each of those means
is the validator's (``validate_subject_token``, ``validate_exchange_targets``, ``validate_exchange_scopes``
in ``authserver.validators``, rules in ``authserver.delegation``). The answer is an access token with
``issued_token_type`` and never a refresh token (RFC 8693 §2.2.1).

It imports no Django models and reads no settings: ``authserver.grants`` imports it, and the settings
import that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oauthlib.oauth2.rfc6749 import errors

from .tokenonly import AccessTokenOnlyGrant

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
# Parameters that name one thing each (RFC 8693 §2.1); audience and resource may repeat.
SINGLE_PARAMETERS = (
    "grant_type", "scope", "subject_token", "subject_token_type", "requested_token_type", "actor_token",
)  # fmt: skip


def _param(request, name: str) -> Any:
    """A form parameter of an oauthlib request, None when absent."""
    return getattr(request, name, None)


def targets(request) -> list[str]:
    """The ``audience`` and ``resource`` values of the request body, in order, repeats dropped."""
    names = ("audience", "resource")
    return list(dict.fromkeys(value for key, value in request.decoded_body or [] if key in names))


def capped_lifetime(lifetime: int | Callable[[Any], int]) -> Callable[[Any], int]:
    """oauthlib's ``expires_in`` for the server's token type: the server's lifetime, or less when a grant
    capped it on ``request.lifetime_cap`` (an exchanged token never outlives its subject token)."""

    def expires_in(request) -> int:
        base = lifetime(request) if callable(lifetime) else lifetime
        cap = getattr(request, "lifetime_cap", None)
        return base if cap is None else min(int(base), int(cap))

    return expires_in


class TokenExchangeGrant(AccessTokenOnlyGrant):
    """``grant_type=urn:ietf:params:oauth:grant-type:token-exchange`` (RFC 8693 §2)."""

    def answer_fields(self, request) -> dict[str, Any]:
        """RFC 8693 §2.2.1: the answer names the type of token issued."""
        return {"issued_token_type": ACCESS_TOKEN_TYPE}

    def validate_token_request(self, request) -> None:
        for validator in self.custom_validators.pre_token:
            validator(request)
        if request.grant_type != TOKEN_EXCHANGE:
            raise errors.UnsupportedGrantTypeError(request=request)
        repeated = [name for name in SINGLE_PARAMETERS if name in request.duplicate_params]
        if repeated:
            description = f"Repeated parameter: {repeated[0]}."
            raise errors.InvalidRequestError(description=description, request=request)
        self._authenticate_confidential(request)
        self.validate_grant_type(request)
        self._check_parameters(request)
        validator = self.request_validator
        validator.validate_subject_token(request.subject_token, request.client, request)
        validator.validate_exchange_targets(targets(request), request.client, request)
        validator.validate_exchange_scopes(request.scopes or [], request.client, request)
        for validator in self.custom_validators.post_token:
            validator(request)

    def _authenticate_confidential(self, request) -> None:
        """A client without credentials to authenticate with is known (or ``invalid_client``) and refused:
        the client is the actor the new token names, so it must prove who it is."""
        if self.request_validator.client_authentication_required(request):
            self.validate_client_confidential(request)
            return
        self.validate_client_public(request)
        description = "Only a confidential client (a secret or private_key_jwt) may exchange tokens."
        raise errors.UnauthorizedClientError(description=description, request=request)

    @staticmethod
    def _check_parameters(request) -> None:
        """RFC 8693 §2.1: a subject token of the one type this server exchanges, no actor token (the
        authenticated client is the actor), and an access token asked for, if anything is."""
        problem = None
        if not _param(request, "subject_token"):
            problem = "subject_token is required."
        elif _param(request, "subject_token_type") != ACCESS_TOKEN_TYPE:
            problem = f"subject_token_type must be {ACCESS_TOKEN_TYPE}."
        elif _param(request, "requested_token_type") not in (None, ACCESS_TOKEN_TYPE):
            problem = f"This server issues only {ACCESS_TOKEN_TYPE} in an exchange."
        elif _param(request, "actor_token") is not None or _param(request, "actor_token_type") is not None:
            problem = "actor_token is not supported: the authenticated client is the actor."
        if problem is not None:
            raise errors.InvalidRequestError(description=problem, request=request)

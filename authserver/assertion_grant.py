"""The RFC 7523 §2.1 JWT bearer grant for identity assertion authorization grants (ID-JAG): the
oauthlib handler ``authserver.grants`` names for ``urn:ietf:params:oauth:grant-type:jwt-bearer``.

oauthlib ships no handler for it. This one follows oauthlib's own grants: the client authenticates as
usual (a secret or ``private_key_jwt``; the draft is for confidential clients only), may use the grant
(``validate_grant_type``), and the validator's ``validate_identity_assertion`` checks the ``assertion``
and names the user it is about; the scopes then narrow like any grant on a user's behalf. No refresh
token: a client holding a fresh assertion from the identity provider asks again.
"""

from __future__ import annotations

from oauthlib.oauth2.rfc6749 import errors

from .tokenonly import AccessTokenOnlyGrant

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class IdentityAssertionGrant(AccessTokenOnlyGrant):
    """``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` with ``assertion`` = an ID-JAG."""

    def validate_token_request(self, request) -> None:
        """RFC 7521 §4.1 and §5.2: one grant_type, assertion and scope; the client, the grant, the
        assertion, the scopes."""
        for validator in self.custom_validators.pre_token:
            validator(request)
        if request.grant_type != JWT_BEARER:
            raise errors.UnsupportedGrantTypeError(request=request)
        for param in ("grant_type", "assertion", "scope"):
            if param in request.duplicate_params:
                raise errors.InvalidRequestError(description=f"Duplicate {param} parameter.", request=request)
        if not getattr(request, "assertion", None):
            raise errors.InvalidRequestError(description="Missing assertion parameter.", request=request)
        self.validate_client_confidential(request)
        self.validate_grant_type(request)
        self.request_validator.validate_identity_assertion(request.assertion, request.client, request)
        self.validate_scopes(request)
        for validator in self.custom_validators.post_token:
            validator(request)

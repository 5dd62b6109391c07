"""DOT's OAUTH2_SERVER_CLASS: oauthlib's server serving the grants of ``authserver.grants``, with this
project's PKCE, RFC 8707 and DPoP (RFC 9449) validators attached, and DPoP's token type."""

from oauthlib.oauth2 import Server as OAuthlibServer
from oauthlib.oauth2.rfc6749.errors import UnsupportedCodeChallengeMethodError

from . import dpop, grants, resource_indicators


def require_s256(request) -> dict:
    """post_auth validator: PKCE with S256 only (RFC 9700 §2.1.1).

    DOT refuses ``plain`` only when it stores the code, after the user has consented; refusing it
    here answers the authorization request itself. A challenge without a method is ``plain`` too.
    """
    if request.code_challenge is not None and request.code_challenge_method != "S256":
        raise UnsupportedCodeChallengeMethodError(
            description='Unsupported code_challenge_method; use "S256".', request=request
        )
    return {}


class Server(OAuthlibServer):
    def __init__(self, request_validator, *args, **kwargs):
        super().__init__(request_validator, *args, **kwargs)
        self.auth_grant.custom_validators.post_auth.append(require_s256)
        self.auth_grant.custom_validators.post_auth.append(resource_indicators.check_authorization_request)
        # oauthlib's own handler instances where it has one (the code grant also serves /authorize).
        built = {type(handler): handler for handler in self._grant_types.values()}
        self._grant_types = {
            grant.grant_type: built.get(grant.handler) or grant.handler(request_validator) for grant in grants.GRANTS
        }
        for handler in self._grant_types.values():
            handler.custom_validators.post_token.append(resource_indicators.settle_token_audience)
            handler.custom_validators.post_token.append(dpop.check_token_request)
        bearer = self.bearer
        self.bound_token_type = dpop.BoundTokenType(
            request_validator, bearer.token_generator, bearer.expires_in, bearer.refresh_token_generator
        )

    @property
    def default_token_type(self):
        """oauthlib's Bearer token type, answering ``DPoP`` for tokens bound to a key."""
        return self.bound_token_type

    @property
    def grant_types(self) -> dict:
        """The handlers of the grants offered now: DOT caches this server, the setting may change."""
        return {grant.grant_type: self._grant_types[grant.grant_type] for grant in grants.offered()}

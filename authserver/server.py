"""DOT's OAUTH2_SERVER_CLASS: oauthlib's server serving the grants of ``authserver.grants``, with this
project's PKCE, RFC 8707 and DPoP (RFC 9449, ``dpop_jkt`` included) validators attached, and DPoP's token
type (whose lifetime a token exchange may cap, RFC 8693); and the server behind the RFC 8628 device
authorization endpoint."""

from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2 import DeviceApplicationServer
from oauthlib.oauth2 import Server as OAuthlibServer
from oauthlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidClientIdError,
    UnsupportedCodeChallengeMethodError,
)

from . import conf, dpop, dpop_jkt, exchange, grants, resource_indicators


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
        self.auth_grant.custom_validators.post_auth.append(dpop_jkt.check_authorization_request)
        # oauthlib's own handler instances where it has one (the code grant also serves /authorize).
        built = {type(handler): handler for handler in self._grant_types.values()}
        self._grant_types = {
            grant.grant_type: built.get(grant.handler) or grant.handler(request_validator)
            for grant in grants.GRANTS
        }
        for grant in grants.GRANTS:
            handler = self._grant_types[grant.grant_type]
            if not grant.by_client_policy:  # token exchange settles its audience from the client's policy
                handler.custom_validators.post_token.append(resource_indicators.settle_token_audience)
            handler.custom_validators.post_token.append(dpop.check_token_request)
        bearer = self.bearer
        # An exchanged token never outlives its subject token (RFC 8693, authserver.exchange).
        lifetime = exchange.capped_lifetime(bearer.expires_in)
        self.bound_token_type = dpop.BoundTokenType(
            request_validator, bearer.token_generator, lifetime, bearer.refresh_token_generator
        )

    @property
    def default_token_type(self):
        """oauthlib's Bearer token type, answering ``DPoP`` for tokens bound to a key."""
        return self.bound_token_type

    @property
    def grant_types(self) -> dict:
        """The handlers of the grants offered now: DOT caches this server, the setting may change."""
        return {grant.grant_type: self._grant_types[grant.grant_type] for grant in grants.offered()}


class DeviceServer(DeviceApplicationServer):
    """The device authorization endpoint (RFC 8628 §3.1-3.2): oauthlib's, held to this server's rules.

    The client must be registered for the device grant (``unauthorized_client`` otherwise), its
    scopes narrow to its ceiling (the user's roles narrow them when the user decides) and its
    ``resource`` values must be ones this server issues tokens for (``invalid_target``). DOT builds
    this server once per process: the lifetime, interval and verification URIs are read per request.
    """

    @property
    def expires_in(self) -> int:
        return conf.get("DEVICE_CODE_LIFETIME")

    @property
    def interval(self) -> int:
        return oauth2_settings.DEVICE_FLOW_INTERVAL

    @property
    def verification_uri(self) -> str:
        return oauth2_settings.OAUTH_DEVICE_VERIFICATION_URI

    def verification_uri_complete(self, user_code: str) -> str | None:
        template = oauth2_settings.OAUTH_DEVICE_VERIFICATION_URI_COMPLETE
        return template.format(user_code=user_code) if template else None

    def validate_device_authorization_request(self, request) -> None:
        request.grant_type = grants.DEVICE_CODE  # what the client asks to use, for the validator's rules
        try:
            super().validate_device_authorization_request(request)
        except InvalidClientIdError:  # an unknown client: invalid_client, as at the token endpoint
            raise InvalidClientError(request=request) from None
        self.request_validator.validate_grant_type(
            request.client_id, request.grant_type, request.client, request
        )
        resource_indicators.check(request, resource_indicators.requested(request))

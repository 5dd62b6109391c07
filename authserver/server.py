"""DOT's OAUTH2_SERVER_CLASS: oauthlib's server with this project's RFC 8707 validators attached."""

from oauthlib.oauth2 import Server as OAuthlibServer

from . import resources


class Server(OAuthlibServer):
    def __init__(self, request_validator, *args, **kwargs):
        super().__init__(request_validator, *args, **kwargs)
        self.auth_grant.custom_validators.post_auth.append(resources.check_authorization_request)
        for grant in (self.auth_grant, self.password_grant, self.credentials_grant, self.refresh_grant):
            grant.custom_validators.post_token.append(resources.settle_token_audience)

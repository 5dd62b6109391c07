"""The answer of the grants oauthlib does not ship that issue an access token and never a refresh token:
RFC 8693 token exchange (``authserver.exchange``) and the RFC 7523 jwt-bearer grant for identity
assertions (``authserver.assertion_grant``).

It imports no Django models and reads no settings: ``authserver.grants`` imports its subclasses, and the
settings import that.
"""

from __future__ import annotations

import json
from typing import Any

from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc6749.grant_types.base import GrantTypeBase


class AccessTokenOnlyGrant(GrantTypeBase):
    """A grant answered as oauthlib's own grants answer: the checks of ``validate_token_request`` (the
    subclass's), then an access token with ``answer_fields`` added and no refresh token, or the error as
    RFC 6749 §5.2 JSON."""

    refresh_token = False

    def answer_fields(self, request) -> dict[str, Any]:
        """Fields the answer carries beside the token's own (none by default)."""
        return {}

    def create_token_response(self, request, token_handler):
        headers = self._get_default_headers()
        try:
            self.validate_token_request(request)
        except errors.OAuth2Error as exc:
            headers.update(exc.headers)
            return headers, exc.json, exc.status_code
        token = token_handler.create_token(request, refresh_token=False)
        token.update(self.answer_fields(request))
        for modifier in self._token_modifiers:
            token = modifier(token)
        self.request_validator.save_token(token, request)
        return headers, json.dumps(token), 200

    def validate_token_request(self, request) -> None:
        raise NotImplementedError

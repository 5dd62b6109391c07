"""DOT's OAUTH2_VALIDATOR_CLASS: effective scopes, password lockout, refresh narrowing."""

from __future__ import annotations

from oauth2_provider.oauth2_validators import OAuth2Validator as DOTValidator
from oauthlib.oauth2.rfc6749.errors import InvalidScopeError

from . import scopes, throttle
from .exceptions import TooManyRequests


def client_ip(request) -> str:
    return (request.headers or {}).get("REMOTE_ADDR", "") if hasattr(request, "headers") else ""


class OAuth2Validator(DOTValidator):
    def validate_scopes(self, client_id, requested, client, request, *args, **kwargs) -> bool:
        """Narrow the request to ceiling ∩ roles; refuse only when nothing is left (RFC 6749 §3.3)."""
        user = None if request.grant_type == "client_credentials" else request.user
        granted = scopes.effective_scopes(requested, client, user)
        if not granted:
            return False
        request.scopes = granted
        return True

    def get_original_scopes(self, refresh_token, request, *args, **kwargs) -> list[str]:
        """Refresh never widens: the original grant, narrowed again to what is allowed today."""
        original = super().get_original_scopes(refresh_token, request, *args, **kwargs)
        original = original.split() if isinstance(original, str) else list(original or [])
        granted = scopes.effective_scopes(original, request.client, request.user)
        if not granted:
            raise InvalidScopeError(description="None of the granted scopes are still allowed.", request=request)
        return granted

    def validate_user(self, username, password, client, request, *args, **kwargs) -> bool:
        ip = client_ip(request)
        wait = throttle.lockout_remaining(username, ip)
        if wait:
            raise TooManyRequests(wait, request=request)
        if super().validate_user(username, password, client, request, *args, **kwargs):
            throttle.record_login_success(username)
            return True
        throttle.record_login_failure(username, ip)
        return False

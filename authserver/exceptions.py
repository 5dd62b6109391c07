"""OAuth errors this server adds to oauthlib's, each carrying its status and headers."""

from oauthlib.oauth2.rfc6749.errors import OAuth2Error


class TooManyRequests(OAuth2Error):
    """A lockout or rate limit: 429 with ``Retry-After`` in the RFC 6749 error shape."""

    error = "temporarily_unavailable"
    status_code = 429

    def __init__(self, retry_after: int, description: str = "Too many attempts; try again later.", **kwargs):
        self.retry_after = max(1, int(retry_after))
        super().__init__(description=description, **kwargs)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after), "Cache-Control": "no-store"}

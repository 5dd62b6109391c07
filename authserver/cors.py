"""CORS policy for the authorization server's endpoints, decided per path for django-cors-headers.

django-cors-headers answers preflights and writes the headers; this module only says yes or no
through its ``check_request_enabled`` signal. ``/mcp`` and the protected-resource metadata are the
MCP server's own business (it answers their CORS itself), so they are never matched here.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.urls import reverse
from oauth2_provider.models import get_application_model

from .redirects import LOOPBACK_HOSTS

# Documents and endpoints any web page may use: public metadata, keys, and self-registration.
PUBLIC_PATHS = re.compile(
    r"^/(\.well-known/(oauth-authorization-server|jwks\.json)|oauth/register/([^/]+/)?)$"
)


def _client_paths() -> set[str]:
    return {reverse("oauth2_provider:token"), reverse("oauth2_provider:revoke-token")}


def origin_registered(origin: str) -> bool:
    """Whether some client lists this origin in its allowed origins (https, or http on loopback)."""
    parts = urlsplit(origin)
    if not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)):
        return False
    candidates = get_application_model().objects.filter(allowed_origins__contains=parts.netloc)
    return any(application.origin_allowed(origin) for application in candidates.only("allowed_origins"))


def allow(sender, request, **kwargs) -> bool:
    """django-cors-headers' ``check_request_enabled`` receiver: may this request's Origin read the answer?"""
    path = request.path_info
    if PUBLIC_PATHS.match(path):
        return True
    origin = request.META.get("HTTP_ORIGIN")  # not request.headers, which would parse every header
    return bool(origin) and path in _client_paths() and origin_registered(origin)

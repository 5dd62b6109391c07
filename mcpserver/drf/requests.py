"""The MCP caller as a DRF request: what serializers (``context["request"]``) and ViewSets see.

``request.user`` is ``ctx.user`` (``AnonymousUser`` for a client's own token or a user the caller
loader does not find) and ``request.auth`` the verified ``mcpserver.auth.AccessToken`` (``ctx.token``):
the pair DRF's permission classes read, and the one this server's DRF authentication class gives a
REST request with the same token. ``CallerAuthentication`` is the authenticator that says so; the
caller is loaded only when something reads ``request.user``.
"""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib.auth.models import AnonymousUser
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from .. import conf

CALLER_ATTRIBUTE = "mcp_context"  # on the Django request: the tools/call context it is made for


class CallerAuthentication(BaseAuthentication):
    """Authenticates a request made for an MCP call as its caller: ``(user, AccessToken)``."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        ctx = getattr(request, CALLER_ATTRIBUTE, None)  # DRF's Request reads through to Django's
        if ctx is None:
            return None
        user = ctx.user
        return (AnonymousUser() if user is None else user), ctx.token


def caller_request(ctx: Any) -> Request:
    """A DRF request carrying nothing but the caller (a serializer's ``context["request"]``)."""
    http = HttpRequest()
    http.method = "POST"
    setattr(http, CALLER_ATTRIBUTE, ctx)
    return Request(http, authenticators=(CallerAuthentication(),))


def http_request(ctx: Any, method: str, path: str, query: list[tuple[str, str]], body: Any) -> WSGIRequest:
    """A Django request for ``method path?query`` with ``body`` as JSON, made for the caller of ``ctx``,
    addressed to this server's MCP host (``MCPSERVER["RESOURCE_URL"]``)."""
    url = urlsplit(conf.get("RESOURCE_URL"))
    content = b"" if body is None else json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": method.upper(),
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": urlencode(query),
        "SERVER_NAME": url.hostname or "localhost",
        "SERVER_PORT": str(url.port or (443 if url.scheme == "https" else 80)),
        "HTTP_HOST": url.netloc,
        "HTTP_ACCEPT": "application/json",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(content)),
        "wsgi.url_scheme": url.scheme or "http",
        "wsgi.input": io.BytesIO(content),
    }
    request = WSGIRequest(environ)
    setattr(request, CALLER_ATTRIBUTE, ctx)
    return request

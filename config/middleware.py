"""The middleware the MCP endpoint goes without: Django's and the packages' own, passed through on ``/mcp``.

Every request goes through one Django handler and one list, ``settings.MIDDLEWARE``, in Django's usual
order. The MCP endpoint (``/mcp``, a JSON API called with bearer tokens) needs none of what browser pages
and the authorization server's cross-origin endpoints use: django-cors-headers (the MCP server answers
CORS for ``/mcp`` itself), WhiteNoise (static files), the session, the logged-in user and flash
messages. Those five are listed in ``MIDDLEWARE`` as the subclasses below: each behaves exactly as its
base class, except that a request whose ``path_info`` is the endpoint's (``reverse("mcp")``; ``/mcp/``
is another path) is handed straight to the next middleware, untouched. So views on that path must not
read ``request.session``, ``request.user`` or messages: those attributes are not there.

CSRF stays Django's own class, on every path: a bearer token is no ambient credential and the MCP view
is ``csrf_exempt``, so for ``/mcp`` it only notes that there is no CSRF cookie; the security checks
(``manage.py check --deploy``) see it where they look for it.

The decision is the request's path, taken inside the one chain, so every entry point (``config.wsgi``,
``config.asgi``, Django's test clients) runs the same middleware for the same path, and no setting is
changed at run time.

Being subclasses, they satisfy the admin's checks for the session, authentication and message
middleware.
"""

from __future__ import annotations

from corsheaders import middleware as cors
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.urls import NoReverseMatch, get_script_prefix, reverse
from whitenoise import middleware as whitenoise


def mcp_path() -> str | None:
    """The endpoint's path as ``request.path_info`` has it, for the URLconf in use; None without one."""
    try:
        return "/" + reverse("mcp").removeprefix(get_script_prefix())
    except NoReverseMatch:
        return None


class NotForMcp:
    """Mixin for a middleware class: run the base class's middleware on every path but the endpoint's.

    The path is read once, when the handler loads its middleware (the URLconf does not change under a
    running handler). A run of these in the list is passed in one step: the first hands the endpoint's
    requests to what follows the last (``bypass``)."""

    def __init__(self, get_response, *args, **kwargs) -> None:
        super().__init__(get_response, *args, **kwargs)
        self.skipped_path = mcp_path()
        # Django hands each middleware the next one inside its exception wrapper, made with
        # functools.wraps; without one (or another kind of next step), the next step is the bypass.
        following = getattr(get_response, "__wrapped__", None)
        if isinstance(following, NotForMcp) and following.skipped_path == self.skipped_path:
            self.bypass = following.bypass
        else:
            self.bypass = get_response

    def __call__(self, request):
        if request.path_info == self.skipped_path:
            return self.bypass(request)
        return super().__call__(request)


class CorsMiddleware(NotForMcp, cors.CorsMiddleware):
    pass


class WhiteNoiseMiddleware(NotForMcp, whitenoise.WhiteNoiseMiddleware):
    pass


class SessionMiddleware(NotForMcp, sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(NotForMcp, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(NotForMcp, messages.MessageMiddleware):
    pass

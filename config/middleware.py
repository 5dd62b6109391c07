"""The middleware the MCP endpoint goes without: Django's and the packages' own, passed through on ``/mcp``.

Every request goes through one Django handler and one list, ``settings.MIDDLEWARE``, in Django's usual
order. The MCP endpoint (``/mcp``, a JSON API called with bearer tokens) needs none of what browser pages
and the authorization server's cross-origin endpoints use: django-cors-headers (the MCP server answers
CORS for ``/mcp`` itself), WhiteNoise (static files), the session, the logged-in user and flash
messages. Those five are listed in ``MIDDLEWARE`` as the subclasses below: each behaves exactly as its
base class, except that a request whose ``path_info`` is the endpoint's (``reverse("mcp")``; ``/mcp/``
is another path) is handed straight to the next middleware, untouched. So views on that path must not
read ``request.session``, ``request.user`` or messages: those attributes are not there.

CSRF stays Django's own class, listed by its dotted path where the deployment checks (``manage.py check
--deploy``) look for it, and enforced on every other path. On the endpoint's it is passed by with the
run it sits in (see ``NotForMcp``): a bearer token is no ambient credential and the endpoint's view is
``csrf_exempt``, for which the middleware would only keep the CSRF cookie (read it, or set a new one in
the response when the one sent is malformed), which an API called without cookies has no use for.
Django still asks its ``process_view`` on every request, which lets an exempt view through at once.

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
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import NoReverseMatch, Resolver404, get_script_prefix, resolve, reverse
from whitenoise import middleware as whitenoise


def mcp_path() -> str | None:
    """The endpoint's path as ``request.path_info`` has it, for the URLconf in use; None without one."""
    try:
        return "/" + reverse("mcp").removeprefix(get_script_prefix())
    except NoReverseMatch:
        return None


def csrf_exempt_path(path: str | None) -> bool:
    """Whether the view of ``path`` (a ``path_info``) is ``csrf_exempt``."""
    try:
        return path is not None and getattr(resolve(path).func, "csrf_exempt", False) is True
    except Resolver404:
        return False


class NotForMcp:
    """Mixin for a middleware class: run the base class's middleware on every path but the endpoint's.

    The path is read once, when the handler loads its middleware (the URLconf does not change under a
    running handler). A run of these in the list is passed in one step: the first hands the endpoint's
    requests to what follows the last (``bypass``). Django's own ``CsrfViewMiddleware`` right after one
    of them belongs to the run when the endpoint's view is ``csrf_exempt`` (see the module's docstring)."""

    def __init__(self, get_response, *args, **kwargs) -> None:
        super().__init__(get_response, *args, **kwargs)
        self.skipped_path = mcp_path()
        self.bypass = self._after_run(get_response)

    def _after_run(self, get_response):
        # Django hands each middleware the next one inside its exception wrapper, made with
        # functools.wraps; without one (or another kind of next step), the next step is the bypass.
        # The handler builds the chain from its innermost middleware out: what follows is built.
        following = getattr(get_response, "__wrapped__", None)
        if isinstance(following, NotForMcp) and following.skipped_path == self.skipped_path:
            return following.bypass
        if type(following) is CsrfViewMiddleware and csrf_exempt_path(self.skipped_path):
            return self._after_run(following.get_response)
        return get_response

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

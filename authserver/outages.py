"""Outages of the database or the shared cache: a 503 with ``Retry-After`` in the endpoint's own shape.

An unreachable PostgreSQL or Redis is not a bug but a wait: OAuth and metadata endpoints answer
RFC 6749's ``temporarily_unavailable`` JSON, pages a short HTML page, both with ``Retry-After`` and
never the exception's text. ``OutageMiddleware`` answers for views (one warning now and then, not a
traceback per request); ``server_error``, the project's ``handler500``, for what a middleware let
through, and stays Django's plain 500 for anything that is not an outage.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from observability.outages import OUTAGES  # the project's one list; clients, cimd, throttle use it from here

from .exceptions import oauth_error

logger = logging.getLogger(__name__)

RETRY_AFTER = 5
WARNING_INTERVAL = 10.0  # seconds between two warnings with the same message, per process
JSON_PATHS = ("/oauth/", "/.well-known/")
PAGE = (
    "<!doctype html><html lang=en><head><title>Temporarily unavailable</title></head>"
    "<body><h1>Temporarily unavailable</h1><p>Please try again in a few seconds.</p></body></html>"
)


_warned: dict[str, float] = {}


def warn(message: str) -> None:
    """Log a degraded mode now and then, not on every request it touches."""
    now = time.monotonic()
    if now - _warned.get(message, float("-inf")) >= WARNING_INTERVAL:
        _warned[message] = now
        logger.warning(message)


def unavailable(request: HttpRequest) -> HttpResponse:
    """503 with ``Retry-After``: RFC 6749 error JSON on OAuth and metadata endpoints, a page elsewhere."""
    if request.path.startswith(JSON_PATHS):
        description = "The service is temporarily unavailable; try again shortly."
        response: HttpResponse = oauth_error("temporarily_unavailable", description, 503)
    else:
        response = HttpResponse(PAGE, status=503)
    response["Retry-After"] = str(RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response


class OutageMiddleware:
    """Turns an outage raised by a view into ``unavailable()``; everything else goes on to Django."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OUTAGES):
            return None
        warn(f"Answering 503: the database or the shared cache is unreachable ({type(exception).__name__})")
        return unavailable(request)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: an outage of a backing service is a 503; anything else Django's own 500."""
    if isinstance(sys.exc_info()[1], OUTAGES):
        return unavailable(request)
    return defaults.server_error(request)

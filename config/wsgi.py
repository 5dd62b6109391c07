"""WSGI entry point for granian, gunicorn and other WSGI servers.

``application`` is Django's one WSGI handler (every path, ``/mcp`` included, goes through
``settings.MIDDLEWARE``; ``config.middleware`` says what ``/mcp`` passes through) inside the adapters
below. The in-process tests call this same object (``tests/wsgiclient.py``).
"""

import gc
import logging
import os

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Larger bodies are refused (413) and their connection may close; smaller ones are always drained.
DRAIN_LIMIT = 8 * 1024 * 1024


class _CountingInput:
    """``wsgi.input`` that counts what the application read."""

    def __init__(self, stream):
        self.stream, self.consumed = stream, 0

    def read(self, *args):
        data = self.stream.read(*args)
        self.consumed += len(data)
        return data

    def readline(self, *args):
        data = self.stream.readline(*args)
        self.consumed += len(data)
        return data

    def __iter__(self):
        return iter(self.readline, b"")


class DrainUnreadBody:
    """Read the request body the application left unread, before the response goes out.

    A view may answer without reading the body (a 401 before parsing, say). gunicorn skips such a
    body itself; granian instead closes the keep-alive connection once the late body arrives, so the
    client's next request on it fails with "server disconnected".
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), DRAIN_LIMIT)
        except ValueError:
            length = 0
        if length <= 0:
            return self.app(environ, start_response)
        counting = environ["wsgi.input"] = _CountingInput(environ["wsgi.input"])
        result = self.app(environ, start_response)
        while counting.consumed < length and counting.read(min(65536, length - counting.consumed)):
            pass
        return result


class OneChunkBody:
    """Hand the server a finished response's body as a one-item list, closing the response here.

    Django returns the response object itself, an iterable; granian takes any non-list through its
    iterator path (a Python call per chunk, the GIL taken again for each, then ``close()``), which
    costs more server CPU per request than the one-shot path a list takes. ``close()`` is what sends
    ``request_finished`` (database connections are released there), so it runs here, before the body
    is written; a streaming response (SSE, files) goes through untouched.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        response = self.app(environ, start_response)
        if getattr(response, "streaming", True):
            return response
        try:
            return [response.content]
        finally:
            try:
                response.close()
            except Exception:  # the server would have logged it after sending; so do we
                logging.getLogger("django.request").exception("Closing the response failed")


class RequestOnlyEnviron:
    """Take the process environment back out of each request's environ.

    granian builds every WSGI environ on a copy of ``os.environ`` (CGI style), so ``request.META``
    would carry ``SECRET_KEY``, ``DATABASE_URL`` and the rest to anything that reads or dumps it (an
    error reporter, a debug page), a process variable named like a header (``HTTP_PROXY``) would pass
    for one the client sent, and every walk over ``META`` would cover the whole process environment.
    Keys the server set for this request are kept; under gunicorn, which builds a clean environ,
    nothing matches and the environ is left as it is.
    """

    KEEP = frozenset({"SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "REQUEST_METHOD", "CONTENT_TYPE",
                      "CONTENT_LENGTH", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR",
                      "REMOTE_PORT", "GATEWAY_INTERFACE", "SERVER_SOFTWARE"})  # fmt: skip

    def __init__(self, app):
        self.app = app
        self.process = frozenset(os.environ) - self.KEEP  # what granian copied (it copies at start)

    def __call__(self, environ, start_response):
        for key in self.process.intersection(environ):
            del environ[key]
        return self.app(environ, start_response)


def build(django: WSGIHandler) -> RequestOnlyEnviron:
    """Django's WSGI handler inside the adapters above, in the order every request meets them."""
    return RequestOnlyEnviron(DrainUnreadBody(OneChunkBody(django)))


def settle_heap() -> None:
    """Load what the first requests would (the URLconf and every view module), then move every object
    alive now out of the garbage collector's way (``gc.freeze()``).

    A worker holds a great many long-lived objects (modules, classes, the URLconf, the registry);
    every full collection would walk them all, pausing every thread of the worker, requests in
    flight included. Frozen, they are never scanned again; new objects are collected as before. A
    serving worker's business only: any other process that imports this module (a test run, a
    management command) keeps its collector as it was.
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (imports every view module now, not on a first request)
    gc.collect()
    gc.freeze()


def worker_application() -> RequestOnlyEnviron:
    """What each worker of the serving command loads (``dev.serving_command``: granian's ``--factory``
    target, gunicorn's ``config.wsgi:worker_application()``): the application, with the heap settled
    in that worker."""
    settle_heap()
    return application


application = build(get_wsgi_application())

"""Django's test client, answered by the production WSGI application.

``WsgiClient`` is ``django.test.Client`` (the same request methods, cookies, ``follow``, ``json()``,
``force_login``, a view's exception raised in the test) whose requests are served by
``config.wsgi.application`` -- what granian and gunicorn serve: the adapters of ``config.wsgi`` around
Django's WSGI handler and ``settings.MIDDLEWARE`` -- called as a WSGI server calls it, instead of by
Django's ``ClientHandler``. So:

- CSRF is enforced, as in production (there is no test-only switch in that path);
- the middleware were loaded with the application, at import: a test that changes
  ``settings.MIDDLEWARE`` or a setting that middleware read when loaded uses ``WsgiClient.loaded_now()``;
- a body the application hands over as a list (a finished response) comes back as an ``HttpResponse``;
  any other iterable comes back as a ``StreamingHttpResponse`` read lazily, closed (as a server closes it)
  once read to the end or when the test closes the response;
- bodies of HEAD requests and of 1xx, 204 and 304 responses are dropped, as servers do;
- ``response.wsgi_request`` is a request built from the environ the application was given (not the
  object its views saw).

Requests keep the test's database transaction: the ``close_old_connections`` receivers stay off while
the application runs and while a streamed response is closed (as Django's own test client does).
"""

from __future__ import annotations

from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.http import HttpResponse, StreamingHttpResponse
from django.test import Client

import config.wsgi  # here, not in a test's body: loading it sets Django's logging up again
from tests.helpers import keep_test_transaction


class _Served:
    """A streamed body: the application's iterable, closed once (at its end, or by ``close``)."""

    def __init__(self, iterable) -> None:
        self.iterable, self.closed = iterable, False

    def __iter__(self):
        try:
            yield from self.iterable
        finally:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        close = getattr(self.iterable, "close", None)
        if close is not None:
            with keep_test_transaction():
                close()


class _Finished(HttpResponse):
    """The test's copy of a finished response. Closing a Django response sends ``request_finished``,
    which would close the connection holding the test's transaction; the application's own response
    was closed already, so only the signal's receivers that the test client keeps off are skipped."""

    def close(self) -> None:
        with keep_test_transaction():
            super().close()


class _Streamed(StreamingHttpResponse):
    """The test's copy of a streamed response: closing it closes the application's body (``_Served``)."""

    def close(self) -> None:
        with keep_test_transaction():
            super().close()


class WsgiCall:
    """The client's handler: call a WSGI application with an environ, return the response it sent."""

    def __init__(self, application) -> None:
        self.application = application

    def __call__(self, environ: dict):
        started: dict = {}

        def start_response(status, headers, exc_info=None):
            started["status"], started["headers"] = status, headers

        method = environ["REQUEST_METHOD"]
        with keep_test_transaction():
            result = self.application(environ, start_response)
            finished = isinstance(result, list | tuple)
            if finished:
                body = b"".join(result)
                getattr(result, "close", lambda: None)()
        code, _, reason = started["status"].partition(" ")
        status = int(code)
        no_body = method == "HEAD" or 100 <= status < 200 or status in (204, 304)
        if finished:
            response = _Finished(b"" if no_body else body, status=status, reason=reason)
        else:
            streamed = _Served(result)  # closed with the response too (StreamingHttpResponse closes it)
            if no_body:
                streamed.close()
            response = _Streamed([] if no_body else streamed, status=status, reason=reason)
        del response.headers["Content-Type"]
        for name, value in started["headers"]:
            if name.lower() == "set-cookie":
                response.cookies.load(value)
            elif name in response.headers:
                response.headers[name] = f"{response.headers[name]}, {value}"
            else:
                response.headers[name] = value
        if 300 <= status < 400 and "Location" in response.headers:
            response.url = response.headers["Location"]  # what ``follow=True`` reads
        response.wsgi_request = WSGIRequest(environ)
        return response


class WsgiClient(Client):
    """``django.test.Client`` served by ``application`` (``config.wsgi.application`` unless given)."""

    def __init__(self, application=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.handler = WsgiCall(config.wsgi.application if application is None else application)

    @classmethod
    def loaded_now(cls, **kwargs) -> WsgiClient:
        """A client of the production application built anew (``config.wsgi.build`` around a new Django
        handler), for a test that changes a setting that middleware read when they are loaded."""
        return cls(config.wsgi.build(WSGIHandler()), **kwargs)

    @property
    def application(self):
        """The WSGI application this client's requests go to."""
        return self.handler.application

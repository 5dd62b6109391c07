"""Dynamic client registration endpoints (RFC 7591 and 7592): DOT's views under this server's policy
(``authserver.registration``), in a transaction, with RFC 7591 errors and ``Cache-Control: no-store``.
"""

from __future__ import annotations

import io
import json

from django.core.exceptions import RequestDataTooBig
from django.core.handlers.wsgi import WSGIRequest
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as dot_views

from observability import clientaddress

from .. import metadata, registration, throttle
from ..exceptions import oauth_error


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


@method_decorator(csrf_exempt, name="dispatch")  # as DOT's views: no cookies, credentials in headers
class RegistrationBodyMixin:
    """Registration bodies are JSON client metadata: one too large or nested too deep gets an RFC 7591
    error before DOT decodes it (its decoder fails on deep nesting with a RecursionError, a 500)."""

    def dispatch(self, request, *args, **kwargs):
        try:
            request.body  # noqa: B018  (read now, inside error handling)
        except RequestDataTooBig:
            return oauth_error("invalid_client_metadata", "The request body is too large.", 413)
        problem = metadata.body_problem(request.body) if request.method in ("POST", "PUT") else None
        if problem is not None:
            status, description = problem
            return _no_store(oauth_error("invalid_client_metadata", description, status))
        return super().dispatch(request, *args, **kwargs)


def _registration_answer(handler, request: HttpRequest, success: int) -> HttpResponse:
    """Run one of DOT's registration handlers in a transaction and hold its outcome to our rules.

    DOT checks the permission, parses and stores; metadata it accepted (or refused with a vaguer
    code) that this server refuses becomes our RFC 7591 error, and any failure undoes everything,
    including the use of an initial access token. A ``private_key_jwt`` client reaches DOT as a
    secret client (``registration.as_secret_client``) and gets its keys afterwards.
    """
    problem = registration.refusal(request.body)
    keys = registration.signing_keys(request.body) if problem is None else None
    with transaction.atomic():
        response = handler(_as_secret_client(request) if keys is not None else request)
        if response.status_code in (success, 400) and problem is not None:
            response = oauth_error(*problem, 400)
        if response.status_code != success:
            transaction.set_rollback(True)
        else:
            data = json.loads(response.content)
            registration.keep_keys(data["client_id"], keys)
            described = registration.describe(data, stored=True, requested=request.body)
            response = JsonResponse(described, status=success)
    return _no_store(response)


def _as_secret_client(request: HttpRequest) -> HttpRequest:
    """The same request with the metadata DOT can register (Django builds a request from a WSGI
    environ; the body is the one thing that differs)."""
    body = registration.as_secret_client(request.body)
    environ = {**request.META, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    copy = WSGIRequest(environ)
    copy.user = request.user
    return copy


class RegistrationView(RegistrationBodyMixin, dot_views.DynamicClientRegistrationView):
    """RFC 7591 registration (DOT's view): rate-limited per address, policy from ``DCR_POLICY``."""

    def post(self, request, *args, **kwargs):
        wait = throttle.registrations_exceeded(clientaddress.of(request.META))
        if wait:
            response = oauth_error("temporarily_unavailable", "Too many registrations from here.", 429)
            response["Retry-After"] = str(wait)
            return response
        if registration.is_closed():
            description = "Registration is closed here; ask an administrator for a client."
            return oauth_error("access_denied", description, 403)
        handler = super().post
        return _registration_answer(lambda asked: handler(asked, *args, **kwargs), request, 201)


class RegistrationManagementView(RegistrationBodyMixin, dot_views.DynamicClientRegistrationManagementView):
    """RFC 7592 read, update and delete with the registration access token (DOT's view)."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if response.status_code == 200:
            response = JsonResponse(registration.describe(json.loads(response.content)))
        return _no_store(response)

    def put(self, request, *args, **kwargs):
        handler = super().put
        return _registration_answer(lambda asked: handler(asked, *args, **kwargs), request, 200)

    def delete(self, request, *args, **kwargs):
        return _no_store(super().delete(request, *args, **kwargs))

"""Per request: an id (echoed in the response), a latency and a count in the metrics, one access line."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from . import clientaddress, conf, metrics, reasons, requestid

access_log = logging.getLogger("observability.access")
TOKEN_VIEW = "oauth2_provider:token"


def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered (e.g. ``oauth/token/``): a label with few values, unlike the path."""
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else metrics.UNMATCHED


def count_token_refusal(request: HttpRequest, response: HttpResponse) -> None:
    """The token endpoint's refusals (RFC 6749 §5.2 bodies) count as auth failures, by error code."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name == TOKEN_VIEW and not response.streaming:
        metrics.auth_failed(reasons.token_refusal_reason(response.content))


class ObservabilityMiddleware:
    """Outermost middleware, so that its timing, count and log line cover every other one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        header = conf.get("REQUEST_ID_HEADER")
        self.header = header
        self.meta_key = "HTTP_" + header.upper().replace("-", "_")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = requestid.choose(request.META.get(self.meta_key))
        request.request_id = request_id
        request.META[clientaddress.META_KEY] = clientaddress.resolve(request.META)
        token = requestid.bind(request_id)
        try:
            response = self.get_response(request)
            response[self.header] = request_id
            elapsed = time.perf_counter() - started
            route = route_of(request)
            metrics.observe_request(route, request.method, response.status_code, elapsed)
            if response.status_code in (400, 401):
                count_token_refusal(request, response)
            if conf.get("ACCESS_LOG") and access_log.isEnabledFor(logging.INFO):
                self.log(request, response, route, elapsed)
            return response
        finally:
            requestid.unbind(token)

    @staticmethod
    def log(request: HttpRequest, response: HttpResponse, route: str, elapsed: float) -> None:
        """One line per request: the path without its query string (which may carry credentials).

        The record is made directly: ``Logger.info`` would also walk the stack on every request for the
        caller's file and line, which are always the same here.
        """
        record = access_log.makeRecord(
            access_log.name,
            logging.INFO,
            __file__,
            0,
            "%s %s %s",
            (request.method, request.path, response.status_code),
            None,
            extra={
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 3),
                "client": clientaddress.of(request.META),
            },
        )
        access_log.handle(record)

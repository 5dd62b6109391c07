"""Per request: an id (echoed in the response), a latency and a count in the metrics, one access line."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from . import clientaddress, conf, metrics, reasons, requestid

access_log = logging.getLogger("observability.access")
TOKEN_VIEW = "oauth2_provider:token"


class AccessRecords:
    """Makes the access lines' ``LogRecord``s: what ``Logger.makeRecord`` would make, with the same
    attributes, for less work.

    ``LogRecord.__init__`` works out, for every record, what is the same for every access line of a
    process: the source file's name and module, the level's name, the process and its name. Those are
    worked out once, by making one record the usual way (so ``logging.logThreads`` and the other
    switches apply), and copied into each new record with the time, the thread and the fields of the
    request. A record factory other than ``LogRecord`` (``logging.setLogRecordFactory``) is used as
    it would be, through ``makeRecord``.
    """

    MESSAGE = "%s %s %s"

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.template: dict[str, Any] | None = None
        self.started = 0.0
        os.register_at_fork(after_in_child=self.forget)  # the process and its name change

    def forget(self) -> None:
        self.template = None

    def make(self, args: tuple, extra: dict[str, Any]) -> logging.LogRecord:
        if logging.getLogRecordFactory() is not logging.LogRecord:
            name = self.logger.name
            return self.logger.makeRecord(
                name, logging.INFO, __file__, 0, self.MESSAGE, args, None, extra=extra
            )
        template = self.template
        if template is None:
            made = logging.LogRecord(self.logger.name, logging.INFO, __file__, 0, self.MESSAGE, (), None)
            template = self.template = dict(vars(made))
            self.started = made.created - made.relativeCreated / 1000  # when logging was loaded
        record = logging.LogRecord.__new__(logging.LogRecord)
        fields = record.__dict__
        fields.update(template)
        created = time.time()
        fields["created"] = created
        fields["msecs"] = int((created - int(created)) * 1000) + 0.0
        fields["relativeCreated"] = (created - self.started) * 1000
        if template.get("thread") is not None:
            fields["thread"] = threading.get_ident()
            fields["threadName"] = threading.current_thread().name
        fields["args"] = args
        fields.update(extra)
        return record


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

        The record is made directly (``AccessRecords``): ``Logger.info`` would also walk the stack on
        every request for the caller's file and line, which are always the same here.
        """
        record = access_records.make(
            (request.method, request.path, response.status_code),
            {
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 3),
                "client": clientaddress.of(request.META),
            },
        )
        access_log.handle(record)


access_records = AccessRecords(access_log)

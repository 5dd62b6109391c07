"""HTTP edges: the ``/mcp`` endpoint and the protected resource metadata (RFC 9728); thin by design."""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from observability.outages import OUTAGES

from . import auth, challenges, conf, issuers, jsonrpc, limits, sessions, signals, transport
from .exceptions import (
    BodyTooLarge,
    ForbiddenOrigin,
    HttpError,
    InsufficientScope,
    InternalError,
    InvalidRequest,
    InvalidToken,
    McpError,
    MethodNotAllowed,
    ServiceUnavailable,
    SessionNotFound,
    TooManyRequests,
    UnsupportedMediaType,
    UseDpopNonce,
)

logger = logging.getLogger(__name__)

ALLOW_HEADERS = (
    "Authorization, Content-Type, Accept, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Session-Id, "
    "Last-Event-ID, DPoP"
)
EXPOSE_HEADERS = "Mcp-Session-Id, WWW-Authenticate, MCP-Protocol-Version, DPoP-Nonce"
ALLOW_METHODS = "GET, POST, DELETE, OPTIONS"
JSON = "application/json"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(
        jsonrpc.dumps(body) if body is not None else b"", status=status, content_type=JSON
    )
    if body is None:
        del response["Content-Type"]
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def http_error(exc: HttpError) -> HttpResponse:
    """The one mapping of HTTP-level errors to responses; 401/403 carry a ``WWW-Authenticate`` challenge."""
    if isinstance(exc, InvalidToken | InsufficientScope):
        signals.access_refused.send(type(exc), error=exc)
        body = {"error": exc.error, "error_description": exc.description}
        headers = {"WWW-Authenticate": challenges.challenge(exc)}
        if isinstance(exc, UseDpopNonce):
            headers["DPoP-Nonce"] = exc.nonce  # RFC 9449 §9
        return json_response(body, exc.status, headers)
    body = jsonrpc.error(None, InvalidRequest(exc.description))
    headers = {"Allow": ALLOW_METHODS} if isinstance(exc, MethodNotAllowed) else {}
    return json_response(body, exc.status, headers)


def mcp_error(exc: McpError, request_id: Any = None) -> HttpResponse:
    """A JSON-RPC error raised outside the transport; a 503 or a 429 tells the client when to retry."""
    response = _reply(transport.error_reply(exc, request_id, "modern"))
    if isinstance(exc, ServiceUnavailable | TooManyRequests):
        response["Retry-After"] = str(exc.retry_after)
    return response


def unexpected_error(exc: Exception, request_id: Any = None) -> HttpResponse:
    """The one mapping of exceptions nobody expected: an unreachable database or cache is a 503 with
    ``Retry-After`` (the client retries), anything else a bug (500). Neither says more than that."""
    if isinstance(exc, OUTAGES):
        logger.warning("Answering 503 on /mcp: a backing service is unreachable (%s)", type(exc).__name__)
        return mcp_error(ServiceUnavailable(), request_id)
    logger.error("Unexpected error on /mcp", exc_info=exc)
    return mcp_error(InternalError(), request_id)


def _reply(outcome: transport.Reply | transport.Streamed, release=None) -> HttpResponse:
    """The HTTP response; a streamed body releases the request's slot (``release``) when it closes,
    except a notification stream, which is counted among the streams instead (its slot is freed now)."""
    if isinstance(outcome, transport.Streamed):
        if release is not None and outcome.counted:
            release()
            release = None
        events = outcome.events if release is None else limits.Releasing(outcome.events, release)
        response = StreamingHttpResponse(events, content_type=outcome.content_type)
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        for name, value in outcome.headers.items():
            response[name] = value
        return response
    return json_response(outcome.body, outcome.status, outcome.headers)


def _cors(response: HttpResponse, origin: str | None, preflight: bool = False) -> HttpResponse:
    response["Vary"] = "Origin"
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        if preflight:
            response["Access-Control-Allow-Methods"] = ALLOW_METHODS
            response["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            response["Access-Control-Max-Age"] = "86400"
    return response


def _read_body(request: HttpRequest) -> bytes:
    limit = conf.get("MAX_BODY_BYTES")
    content_type = request.content_type or ""
    if content_type and content_type != JSON:
        raise UnsupportedMediaType()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise BodyTooLarge(f"Request body larger than {limit} bytes")
    body = request.read(limit + 1)
    if len(body) > limit:
        raise BodyTooLarge(f"Request body larger than {limit} bytes")
    return body


class McpView(View):
    """``/mcp``: POST one JSON-RPC message (or a 2025-03-26 batch); GET opens a 2025 session's
    notification stream (SSE); DELETE ends a session.

    Exempt from CSRF (bearer tokens, no cookies): ``as_view()`` wraps the view function once, where
    ``method_decorator`` on ``dispatch`` would rebuild a wrapper on every request.
    """

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        return csrf_exempt(super().as_view(**initkwargs))

    http_method_names = ["post", "get", "delete", "options"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        origin = request.META.get("HTTP_ORIGIN")
        try:
            if origin is not None and not conf.origin_allowed(origin):
                origin = None
                raise ForbiddenOrigin()
            response = super().dispatch(request, *args, **kwargs)
        except HttpError as exc:
            response = http_error(exc)
        except McpError as exc:
            response = mcp_error(exc)
        except Exception as exc:
            response = unexpected_error(exc)
        return _cors(response, origin, preflight=request.method == "OPTIONS")

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raise MethodNotAllowed()

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = HttpResponse(status=204)
        response["Allow"] = ALLOW_METHODS
        return response

    def get(self, request: HttpRequest) -> HttpResponse:
        """A 2025 session's notifications (``transport.listening``); one that asks for no SSE, or speaks
        the 2026-07-28 revision (``subscriptions/listen`` instead), is told 405."""
        token = _authenticate(request)
        headers = _mcp_headers(request)
        accept = request.META.get("HTTP_ACCEPT", "")
        if "text/event-stream" not in accept or transport.era_of({}, headers) == "modern":
            raise MethodNotAllowed("GET opens a 2025 session's SSE stream (Accept: text/event-stream)")
        registry = apps.get_app_config("mcpserver").registry
        return _reply(
            transport.open_stream(
                headers.get("mcp-session-id"), token, registry, request.META.get("HTTP_LAST_EVENT_ID")
            )
        )

    # Declared so that View.setup does not store ``self.head = self.get`` on every instance: a reference
    # cycle (view -> bound method -> view) that would leave each request, its view and its environ to the
    # garbage collector. HEAD stays refused: it is not in ``http_method_names``.
    head = get

    def post(self, request: HttpRequest) -> HttpResponse:
        token = _authenticate(request)
        # Counted from before the body is read (a slow body holds a thread too) until the response is
        # finished: at once for JSON, when the server closes a streamed body otherwise.
        release = limits.admit(token.subject, conf.get("MAX_INFLIGHT_PER_CALLER"))
        if release is None:
            raise TooManyRequests()
        streaming = False
        try:
            response = self._answer(request, token, release)
            streaming = response.streaming
            return response
        finally:
            if not streaming:
                release()

    def _answer(self, request: HttpRequest, token: auth.AccessToken, release) -> HttpResponse:
        body = jsonrpc.loads(_read_body(request), conf.get("MAX_JSON_DEPTH"))
        registry = apps.get_app_config("mcpserver").registry
        accept = request.META.get("HTTP_ACCEPT", "")
        exchange = transport.Exchange(
            _mcp_headers(request), token, registry, "text/event-stream" in accept,
            authorization=request.META.get("HTTP_AUTHORIZATION"),
        )  # fmt: skip
        try:
            return _reply(transport.handle(body, exchange), release)
        except HttpError:
            raise
        except Exception as exc:
            return unexpected_error(exc, jsonrpc.peek_id(body))

    def delete(self, request: HttpRequest) -> HttpResponse:
        token = _authenticate(request)
        session_id = request.META.get("HTTP_MCP_SESSION_ID")
        if not session_id:
            raise InvalidRequest("DELETE needs the Mcp-Session-Id header of the session to end")
        if sessions.load(session_id, token) is None:
            raise SessionNotFound()
        sessions.end(session_id)
        return HttpResponse(status=204)


def _authenticate(request: HttpRequest) -> auth.AccessToken:
    """The caller of an /mcp request; a DPoP proof's ``htu`` is compared with ``RESOURCE_URL``."""
    meta = request.META
    return auth.authenticate(
        meta.get("HTTP_AUTHORIZATION"), proof=meta.get("HTTP_DPOP"), method=request.method
    )


def _mcp_headers(request: HttpRequest) -> dict[str, str]:
    """The MCP headers (``MCP-Protocol-Version``, ``Mcp-Method``, ``Mcp-Name``, ``Mcp-Session-Id``,
    ``Mcp-Param-*``) under lower-case names."""
    return {
        key[5:].replace("_", "-").lower(): value.strip(" \t")  # RFC 9110 §5.5: values exclude OWS
        for key, value in request.META.items()
        if key.startswith("HTTP_MCP_")
    }


def protected_resource_metadata() -> dict[str, Any]:
    """RFC 9728 §2: what clients need to find the authorization server and the scopes."""
    return {
        "resource": conf.get("RESOURCE_URL"),
        "authorization_servers": issuers.authorization_servers(),
        "scopes_supported": list(conf.get("SCOPES_SUPPORTED")),
        "bearer_methods_supported": ["header"],
        "resource_name": conf.get("RESOURCE_NAME"),
        "dpop_signing_alg_values_supported": list(conf.get("DPOP_ALGORITHMS")),  # RFC 9728 §2
        "dpop_bound_access_tokens_required": bool(conf.get("DPOP_REQUIRED")),
    }


class ProtectedResourceMetadataView(View):
    """``/.well-known/oauth-protected-resource[/mcp]``: public metadata, readable from any origin."""

    http_method_names = ["get", "head", "options"]

    def get(self, request: HttpRequest) -> HttpResponse:
        response = json_response(protected_resource_metadata())
        response["Cache-Control"] = "public, max-age=3600"
        return self._cors(response)

    head = get  # what View.setup would store on each instance, a cycle (see McpView.head)

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = self._cors(HttpResponse(status=204))
        response["Access-Control-Allow-Methods"] = "GET, OPTIONS"
        response["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        return response

    @staticmethod
    def _cors(response: HttpResponse) -> HttpResponse:
        response["Access-Control-Allow-Origin"] = "*"
        return response

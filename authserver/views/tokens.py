"""The token, revocation (RFC 7009) and introspection (RFC 7662) endpoints: DOT's views, answering
every bad request with an RFC 6749 JSON error and never cached or CSRF-checked (credentials travel in
headers and form bodies, not cookies).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import json
from urllib.parse import unquote_plus

import jwt
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.utils.functional import SimpleLazyObject
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views as dot_views
from oauth2_provider.signals import app_authorized
from oauthlib.common import Request as OauthlibRequest
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from observability import clientaddress

from .. import assertions, conf, grants, throttle
from ..exceptions import InvalidClientAssertion, oauth_error, oauthlib_response
from ..models import ClientPolicy, access_tokens


def client_id_of(request: HttpRequest) -> str:
    """The client a token request names, from HTTP Basic, the form body or a client assertion's
    ``iss`` (no authentication)."""
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    if auth.startswith("Basic "):
        try:
            return unquote_plus(base64.b64decode(auth[6:], validate=True).decode().split(":", 1)[0])
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return ""
    if not request.POST.get("client_id") and request.POST.get("client_assertion"):
        try:
            return assertions.issuer(request.POST["client_assertion"])
        except InvalidClientAssertion:
            return ""
    return request.POST.get("client_id", "")


@method_decorator(csrf_exempt, name="dispatch")
class FormBodyMixin:
    """Answer a form body Django refuses to parse (too large, too many fields, not UTF-8) as RFC 6749 JSON."""

    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST":
            try:
                request.POST  # noqa: B018  (parse now, before DOT does it outside any error handling)
            except RequestDataTooBig:
                return oauth_error("invalid_request", "The request body is too large.", 413)
            except (BadRequest, SuspiciousOperation):  # too many fields, a charset other than UTF-8
                return oauth_error("invalid_request", "The request body is not a readable UTF-8 form.", 400)
        return super().dispatch(request, *args, **kwargs)

    def http_method_not_allowed(self, request, *args, **kwargs):
        allowed = [method for method in self._allowed_methods() if method != "OPTIONS"]
        response = oauth_error("invalid_request", f"This endpoint accepts only {', '.join(allowed)}.", 405)
        response["Allow"] = ", ".join(self._allowed_methods())
        return response


@method_decorator(never_cache, name="dispatch")
class TokenView(FormBodyMixin, dot_views.TokenView):
    """DOT's token endpoint with a per-client flood limit and RFC 6749 errors for every bad request."""

    def post(self, request, *args, **kwargs):
        if request.content_type != "application/x-www-form-urlencoded":
            return oauth_error(
                "invalid_request", "The token endpoint takes application/x-www-form-urlencoded bodies.", 400
            )
        grant_type = request.POST.get("grant_type")
        if grant_type and not grants.is_offered(grant_type):
            return oauth_error("unsupported_grant_type", "This server does not offer that grant type.", 400)
        # Counted before authentication: keyed by client *and* address, so that a flood naming a
        # client from elsewhere cannot lock that client out.
        wait = throttle.token_requests_exceeded(client_id_of(request), clientaddress.of(request.META))
        if wait:
            response = oauth_error("temporarily_unavailable", "Too many token requests for this client.", 429)
            response["Retry-After"] = str(wait)
            return response
        # Every grant through oauthlib, the device grant included: DOT's own device branch answers a
        # missing device_code with a 500 and an unknown one with a non-standard 404.
        return self.authorization_flow_token_response(request, *args, **kwargs)

    @method_decorator(sensitive_post_parameters("password", "client_secret", "assertion", "client_assertion"))
    def authorization_flow_token_response(self, request, *args, **kwargs):
        """DOT's, less its re-read of the new token's row just to announce it: ``app_authorized``
        receivers get the row as a lazy object, loaded only if one of them looks at it."""
        url, headers, body, status = self.create_token_response(request)
        if status == 200:
            access_token = json.loads(body).get("access_token")
            if access_token is not None:
                token = SimpleLazyObject(lambda: _access_token_by_value(access_token))
                app_authorized.send(sender=self, request=request, token=token)
        return oauthlib_response(body, status, headers, realm="token")


class RevokeTokenView(FormBodyMixin, dot_views.RevokeTokenView):
    """RFC 7009 revocation (DOT); revoked access tokens reach resource servers through the deny-list."""

    def post(self, request, *args, **kwargs):
        url, headers, body, status = self.create_revocation_response(request)
        if status < 400:  # RFC 7009 §2.2: an empty 200, whether or not the token was known
            response = HttpResponse(content=body or "", status=status)
            for name, value in headers.items():
                response[name] = value
            return response
        return oauthlib_response(body, status, headers, realm="revocation")


class IntrospectTokenView(FormBodyMixin, dot_views.IntrospectTokenView):
    """RFC 7662 introspection, answering from the token's database row (the source of liveness).

    It is for resource servers: only a client that authenticates itself and that an administrator
    allowed (``ClientPolicy.may_introspect``) gets answers; DOT's bearer-token way in is closed.
    """

    def authenticate_client(self, request) -> bool:
        """RFC 6749 §2.3 client authentication, remembering which client it was (DOT keeps a bool)."""
        core = self.get_oauthlib_core()
        oauthlib_request = OauthlibRequest(*core._extract_params(request))  # as DOT's own authenticate_client
        try:
            authenticated = core.server.request_validator.authenticate_client(oauthlib_request)
        except OAuth2Error as exc:  # a refused signed assertion says why
            request.client_authentication_error = exc
            return False
        if not authenticated:
            return False
        request.introspecting_client = oauthlib_request.client
        return True

    def verify_request(self, request):
        """No introspection with a bearer token: whoever asks authenticates as a client."""
        return False, None

    def post(self, request, *args, **kwargs):
        if not _may_introspect(request.introspecting_client):
            return oauth_error("unauthorized_client", "This client may not introspect tokens.", 403)
        return super().post(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        if not _may_introspect(request.introspecting_client):
            return oauth_error("unauthorized_client", "This client may not introspect tokens.", 403)
        return super().get(request, *args, **kwargs)

    def unauthenticated_response(self, request, oauthlib_request=None):
        """RFC 7662 §2.3: failed client authentication is a 401 as in RFC 6749 §5.2 (DOT: a bare 403)."""
        error = getattr(request, "client_authentication_error", None)
        if error is not None and error.status_code != 401:
            return oauth_error(error.error, error.description, error.status_code)
        description = error.description if error is not None else "Client authentication failed."
        response = oauth_error("invalid_client", description, 401)
        response["WWW-Authenticate"] = 'Basic realm="introspection"'
        return response

    @staticmethod
    def get_token_response(token_value=None):
        response = dot_views.IntrospectTokenView.get_token_response(token_value)
        if response.status_code != 200:
            return response
        data = json.loads(response.content)
        token = _access_token_by_value(token_value) if data.get("active") else None
        if token is None:  # inactive, or revoked since DOT looked it up
            return JsonResponse({"active": False})
        data.update(
            {
                "iss": conf.get("ISSUER"),
                "sub": str(token.user_id) if token.user_id else token.application.client_id,
                "iat": int(calendar.timegm(token.created.timetuple())),
                "token_type": "Bearer",
                "aud": (token.resource or [conf.get("DEFAULT_RESOURCE")]),
            }
        )
        if token.user_id:
            data["roles"] = token.user.role_names()
        claims = _signed_claims(token_value)
        confirmation = claims.get("cnf")
        jkt = confirmation.get("jkt") if isinstance(confirmation, dict) else None
        if isinstance(jkt, str):  # RFC 9449 §6.2: the key the token is bound to
            data.update({"token_type": "DPoP", "cnf": {"jkt": jkt}})
        if isinstance(claims.get("act"), dict):  # RFC 8693 §4.1: who acts for the subject (exchanged tokens)
            data["act"] = claims["act"]
        return JsonResponse(data)


def _signed_claims(value: str) -> dict:
    """The claims this server signed into an access token it holds a row for (so its signature is not
    checked again); empty for a value that is no JWT (a token from before JWT access tokens)."""
    try:
        claims = jwt.decode(value, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _may_introspect(application) -> bool:
    return ClientPolicy.objects.filter(application=application, may_introspect=True, enabled=True).exists()


def _access_token_by_value(value: str):
    """The access token with this value (a registration access token is none: ``access_tokens``)."""
    checksum = hashlib.sha256(value.encode()).hexdigest()
    return access_tokens().select_related("user", "application").filter(token_checksum=checksum).first()

"""HTTP edges of the authorization server: login, consent, account, token, introspection, registration,
metadata, JWKS."""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import json
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from django.contrib import auth, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, resolve_url
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.utils.functional import SimpleLazyObject
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import TemplateView
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import get_application_model
from oauth2_provider.signals import app_authorized
from oauthlib.common import Request as OauthlibRequest
from oauthlib.oauth2.rfc6749.errors import ConsentRequired, InvalidRequestError, InvalidScopeError

from observability import clientaddress

from . import (
    conf,
    consents,
    grants,
    keys,
    metadata,
    redirects,
    registration,
    resource_indicators,
    scopes,
    throttle,
)
from .exceptions import oauth_error, oauthlib_response
from .forms import LoginForm, clean_username
from .models import ClientPolicy, Consent, access_tokens

# The pages people see need no script at all, and nobody may frame them (clickjacking). No
# form-action: the consent form's answer is a redirect to the client, wherever it lives.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def _client_ip(request: HttpRequest) -> str:
    return clientaddress.of(request.META)


def _with_iss(url: str) -> str:
    """Add the RFC 9207 ``iss`` parameter to an authorization-response redirect (errors included)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "iss"]
    query.append(("iss", conf.get("ISSUER")))
    return urlunsplit(parts._replace(query=urlencode(query)))


class PageSecurityMixin:
    """Login, consent and account pages: a strict CSP (frame-ancestors 'none', no scripts), never cached.

    ``X-Frame-Options: DENY`` comes from Django's clickjacking middleware for every response.
    """

    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        response.setdefault("Content-Security-Policy", PAGE_CSP)
        add_never_cache_headers(response)
        return response


class LoginView(PageSecurityMixin, auth_views.LoginView):
    """Django's login page with per-username and per-address lockout in the shared cache."""

    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        username = clean_username(request.POST.get("username", ""))
        wait = throttle.lockout_remaining(username, _client_ip(request))
        if wait:
            response = self.render_to_response(self.get_context_data(form=self.get_form(), locked_for=wait), status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        throttle.record_login_success(form.cleaned_data["username"])
        return super().form_valid(form)

    def form_invalid(self, form):
        username = clean_username(self.request.POST.get("username", ""))
        throttle.record_login_failure(username, _client_ip(self.request))
        return super().form_invalid(form)


class AuthorizationView(PageSecurityMixin, dot_views.AuthorizationView):
    """The consent page: DOT's authorization endpoint, with scopes narrowed to the user's roles.

    Only a remembered consent (listed on the account page, where the user can withdraw it) that covers
    every requested scope for this client and resource answers a request without the page, through the
    same path as pressing Allow; so does an administrator's ``skip_authorization`` on a client (a
    first-party decision made in the admin, never by self-registration). DOT's ``approval_prompt=auto``,
    which reuses any live token, is never honoured. OpenID Connect's ``prompt`` values are (Core
    §3.1.2.1): ``consent`` shows the page anyway, ``login`` signs the user in again, ``none`` shows
    nothing and answers ``login_required`` or ``consent_required`` to the client instead.
    """

    template_name = "authserver/consent.html"
    remembered = False

    def get(self, request, *args, **kwargs):
        # DOT reads approval_prompt from the query (or REQUEST_APPROVAL_PROMPT) and, on "auto", lets
        # any live token of the user and client stand in for consent: always "force" here.
        query = request.GET.copy()
        query["approval_prompt"] = "force"
        request.GET = query
        return super().get(request, *args, **kwargs)

    def validate_authorization_request(self, request):
        requested, credentials = super().validate_authorization_request(request)
        application = get_application_model().objects.get(client_id=credentials["client_id"])
        user = request.user if request.user.is_authenticated else None
        granted = scopes.effective_scopes(requested, application, user)
        if not granted:
            error = InvalidScopeError(
                description="You may not grant any of the requested scopes to this client.",
                state=credentials.get("state"),
            )
            raise OAuthToolkitError(error=error, redirect_uri=credentials["redirect_uri"])
        prompt = _prompt(request)
        if "none" in prompt and len(prompt) > 1:
            description = "prompt=none cannot be combined with other values."
            error = InvalidRequestError(description=description, state=credentials.get("state"))
            raise OAuthToolkitError(error=error, redirect_uri=credentials["redirect_uri"])
        if request.method == "GET" and user is not None and "consent" not in prompt:
            audience = resource_indicators.audience(request.GET.getlist("resource"))
            self.remembered = consents.covers(user, application, granted, audience)
        return granted, credentials

    def render_to_response(self, context, **response_kwargs):
        form = context.get("form")
        if form is not None and "error" not in context:
            if self.remembered:
                return self._approve_remembered(form)
            if "none" in _prompt(self.request):
                return self._consent_required(form, context["application"])
        return super().render_to_response(context, **response_kwargs)

    def _approve_remembered(self, form):
        data = {name: value for name, value in form.initial.items() if value is not None}
        bound = self.get_form_class()(data={**data, "allow": "Authorize"})
        return self.form_valid(bound) if bound.is_valid() else self.form_invalid(bound)

    def _consent_required(self, form, application):
        """prompt=none, and only the page could answer: tell the (validated) redirect URI so."""
        description = "The user has not approved this request for this client."
        error = ConsentRequired(description=description, state=form.initial.get("state"))
        redirect_uri = form.initial["redirect_uri"]  # validated by oauthlib: registered for the client
        return self.error_response(OAuthToolkitError(error=error, redirect_uri=redirect_uri), application)

    def handle_prompt_login(self):
        """prompt=login: sign the user out, then back through the login page to this request without
        ``login`` in its prompt (so the return does not loop), every other parameter kept."""
        if self.request.user.is_authenticated:
            auth.logout(self.request)
        query = [
            (key, value)
            for key, values in self.request.GET.lists()
            if key not in ("prompt", "approval_prompt")
            for value in values
        ]
        rest = [value for value in _prompt(self.request) if value != "login"]
        if rest:
            query.append(("prompt", " ".join(rest)))
        next_url = f"{self.request.path}?{urlencode(query)}"
        return redirect_to_login(next_url, resolve_url(self.get_login_url()), self.get_redirect_field_name())

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        application = context.get("application")
        if application is not None:
            descriptions = scopes.DatabaseScopes().get_all_scopes()
            context["scope_items"] = [(name, descriptions.get(name, name)) for name in context.get("scopes", [])]
            uri = urlsplit(context.get("redirect_uri") or "")
            context["redirect_host"] = uri.netloc or f"{uri.scheme}:"  # a private-use scheme has no host
            if application.registration_source == application.RegistrationSource.CIMD:
                context["document_host"] = urlsplit(application.client_id).netloc
        return context

    def form_valid(self, form):
        if not _names_a_registered_redirect(form.cleaned_data):
            # A tampered form: DOT's deny path would redirect to it unchecked (or fail with a 500).
            return self.form_invalid(form)
        # The user may untick scopes: keep only the ones still ticked (never add any).
        if "scope_choice" in self.request.POST:
            ticked = set(self.request.POST.getlist("scopes"))
            kept = [s for s in form.cleaned_data["scope"].split() if s in ticked]
            if form.cleaned_data.get("allow") and not kept:
                form.cleaned_data["allow"] = False
            form.cleaned_data["scope"] = " ".join(kept)
        self.success_url = None  # DOT sets it only when a code was issued
        response = super().form_valid(form)
        if self.success_url and form.cleaned_data.get("allow") and self.request.POST.get("remember"):
            application = get_application_model().objects.get(client_id=form.cleaned_data["client_id"])
            audience = resource_indicators.audience((form.cleaned_data.get("resource") or "").split())
            consents.remember(self.request.user, application, form.cleaned_data["scope"].split(), audience)
        return response

    def form_invalid(self, form):
        """A consent POST without its hidden fields gets an error page, not a half-rendered consent page."""
        description = "The authorization form was incomplete or changed."
        error = {"error": "invalid_request", "description": description}
        return self.render_to_response(self.get_context_data(form=form, error=error), status=400)

    def redirect(self, redirect_to, application):
        return super().redirect(_with_iss(redirect_to), application)


def _prompt(request: HttpRequest) -> set[str]:
    """OpenID Connect's ``prompt``: a space-delimited, case-sensitive set of values."""
    return set(request.GET.get("prompt", "").split())


def _names_a_registered_redirect(data: dict) -> bool:
    """Whether the consent form names an existing client and one of its registered redirect URIs."""
    application = get_application_model().objects.filter(client_id=data["client_id"]).first()
    return application is not None and redirects.registered(application, data["redirect_uri"])


def _client_id_of(request: HttpRequest) -> str:
    """The client a token request names, from HTTP Basic or the form body (no authentication)."""
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    if auth.startswith("Basic "):
        try:
            return unquote_plus(base64.b64decode(auth[6:], validate=True).decode().split(":", 1)[0])
        except (binascii.Error, UnicodeDecodeError, ValueError):
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
        wait = throttle.token_requests_exceeded(_client_id_of(request), _client_ip(request))
        if wait:
            response = oauth_error("temporarily_unavailable", "Too many token requests for this client.", 429)
            response["Retry-After"] = str(wait)
            return response
        # Every grant through oauthlib, the device grant included: DOT's own device branch answers a
        # missing device_code with a 500 and an unknown one with a non-standard 404.
        return self.authorization_flow_token_response(request, *args, **kwargs)

    @method_decorator(sensitive_post_parameters("password", "client_secret"))
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
        if not core.server.request_validator.authenticate_client(oauthlib_request):
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
        response = oauth_error("invalid_client", "Client authentication failed.", 401)
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
        return JsonResponse(data)


def _may_introspect(application) -> bool:
    return ClientPolicy.objects.filter(application=application, may_introspect=True, enabled=True).exists()


def _access_token_by_value(value: str):
    """The access token with this value (a registration access token is none: ``access_tokens``)."""
    checksum = hashlib.sha256(value.encode()).hexdigest()
    return access_tokens().select_related("user", "application").filter(token_checksum=checksum).first()


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
    including the use of an initial access token.
    """
    with transaction.atomic():
        response = handler()
        if response.status_code in (success, 400):
            problem = registration.refusal(request.body)
            if problem is not None:
                response = oauth_error(*problem, 400)
        if response.status_code != success:
            transaction.set_rollback(True)
        else:
            described = registration.describe(json.loads(response.content), stored=True)
            response = JsonResponse(described, status=success)
    return _no_store(response)


class RegistrationView(RegistrationBodyMixin, dot_views.DynamicClientRegistrationView):
    """RFC 7591 registration (DOT's view): rate-limited per address, policy from ``DCR_POLICY``."""

    def post(self, request, *args, **kwargs):
        wait = throttle.registrations_exceeded(_client_ip(request))
        if wait:
            response = oauth_error("temporarily_unavailable", "Too many registrations from here.", 429)
            response["Retry-After"] = str(wait)
            return response
        if registration.is_closed():
            description = "Registration is closed here; ask an administrator for a client."
            return oauth_error("access_denied", description, 403)
        handler = super().post
        return _registration_answer(lambda: handler(request, *args, **kwargs), request, 201)


class RegistrationManagementView(RegistrationBodyMixin, dot_views.DynamicClientRegistrationManagementView):
    """RFC 7592 read, update and delete with the registration access token (DOT's view)."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if response.status_code == 200:
            response = JsonResponse(registration.describe(json.loads(response.content)))
        return _no_store(response)

    def put(self, request, *args, **kwargs):
        handler = super().put
        return _registration_answer(lambda: handler(request, *args, **kwargs), request, 200)

    def delete(self, request, *args, **kwargs):
        return _no_store(super().delete(request, *args, **kwargs))


class ServerMetadataView(dot_views.OAuthServerMetadataView):
    """RFC 8414 metadata: DOT's document plus ``jwks_uri`` and the auth methods each endpoint takes."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        if registration.is_closed():
            data.pop("registration_endpoint", None)  # nothing a client could do there
        data["grant_types_supported"] = [grant.grant_type for grant in grants.offered()]
        data["jwks_uri"] = conf.get("ISSUER") + "/.well-known/jwks.json"
        secret_methods = ["client_secret_basic", "client_secret_post"]
        data["revocation_endpoint_auth_methods_supported"] = [*secret_methods, "none"]
        data["introspection_endpoint_auth_methods_supported"] = secret_methods
        data["authorization_response_iss_parameter_supported"] = True
        data["resource_indicators_supported"] = True
        return _public_json(data, max_age=300)


class JwksView(View):
    """The JWK Set of every key that can still verify a live access token."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return _public_json(keys.jwks(), max_age=300)

    head = get  # View.setup would store it on each instance: a cycle left to the garbage collector


def _public_json(data: dict, max_age: int) -> JsonResponse:
    response = JsonResponse(data)
    response["Cache-Control"] = f"public, max-age={max_age}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


class AccountView(PageSecurityMixin, LoginRequiredMixin, TemplateView):
    """The signed-in user's page: who they are, what their roles let them grant, which clients they trust."""

    template_name = "authserver/account.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["roles"] = self.request.user.roles.prefetch_related("scopes")
        consents = self.request.user.consents.select_related("application")
        context["consents"] = consents.prefetch_related("scopes")
        return context


class ConsentWithdrawView(PageSecurityMixin, LoginRequiredMixin, View):
    """POST only (CSRF-protected): forget one consent and revoke that client's tokens for this user."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        consent = get_object_or_404(Consent.objects.select_related("application"), pk=pk, user=request.user)
        name = str(consent.application)
        revoked = consents.withdraw(consent)
        messages.success(request, f"Access for {name} withdrawn; {revoked} token(s) revoked.")
        return redirect("account")

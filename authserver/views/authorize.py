"""The authorization endpoint: DOT's consent page, held to this server's rules (see ``AuthorizationView``).

Every redirect it sends back to a client carries the RFC 9207 ``iss`` parameter, errors included.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.contrib import auth
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest
from django.shortcuts import resolve_url
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import get_application_model
from oauthlib.oauth2.rfc6749.errors import ConsentRequired, InvalidRequestError, InvalidScopeError

from .. import approvals, conf, consents, dpop_jkt, redirects, resource_indicators, scopes
from ..forms import ConsentForm
from .pages import PageSecurityMixin


def _with_iss(url: str) -> str:
    """Add the RFC 9207 ``iss`` parameter to an authorization-response redirect (errors included)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "iss"]
    query.append(("iss", conf.get("ISSUER")))
    return urlunsplit(parts._replace(query=urlencode(query)))


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
    form_class = ConsentForm
    remembered = False
    carried: dict = {}  # what the consent form carries to the code beyond DOT's fields (``dpop_jkt``)

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

    def get_initial(self):
        """DOT's hidden fields, and the RFC 9449 §10 ``dpop_jkt`` (checked well-formed by now)."""
        return {**super().get_initial(), dpop_jkt.PARAMETER: self.request.GET.get(dpop_jkt.PARAMETER)}

    def create_authorization_response(self, request, scopes, credentials, allow):
        """DOT's, with the consent form's ``dpop_jkt`` in the credentials it builds (checked again)."""
        credentials = {**credentials, **self.carried}
        return super().create_authorization_response(request, scopes, credentials, allow)

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
            context.update(approvals.page_context(application, context.get("scopes", [])))
            uri = urlsplit(context.get("redirect_uri") or "")
            context["redirect_host"] = uri.netloc or f"{uri.scheme}:"  # a private-use scheme has no host
        return context

    def form_valid(self, form):
        if not _names_a_registered_redirect(form.cleaned_data):
            # A tampered form: DOT's deny path would redirect to it unchecked (or fail with a 500).
            return self.form_invalid(form)
        # The user may untick scopes: keep only the ones still ticked (never add any).
        kept = approvals.kept(self.request, form.cleaned_data["scope"].split())
        if form.cleaned_data.get("allow") and not kept:
            form.cleaned_data["allow"] = False
        form.cleaned_data["scope"] = " ".join(kept)
        carried = form.cleaned_data.get(dpop_jkt.PARAMETER)
        self.carried = {dpop_jkt.PARAMETER: carried} if carried else {}
        self.success_url = None  # DOT sets it only when a code was issued
        response = super().form_valid(form)
        if self.success_url and form.cleaned_data.get("allow"):
            application = get_application_model().objects.get(client_id=form.cleaned_data["client_id"])
            audience = resource_indicators.audience((form.cleaned_data.get("resource") or "").split())
            approvals.remember_if_asked(self.request, application, kept, audience)
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

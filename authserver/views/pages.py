"""The pages people see outside the consent flow: login, account, withdrawing a consent.

``PageSecurityMixin`` is the contract of every page a person sees here (the consent page too):
a strict CSP and never cached. Login is locked out per username and per address (``throttle``).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.cache import add_never_cache_headers
from django.views import View
from django.views.generic import TemplateView

from observability import clientaddress

from .. import consents, throttle
from ..forms import LoginForm, clean_username
from ..models import Consent

# The pages people see need no script at all, and nobody may frame them (clickjacking). No
# form-action: the consent form's answer is a redirect to the client, wherever it lives.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'"
)


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
        wait = throttle.lockout_remaining(username, clientaddress.of(request.META))
        if wait:
            response = self.render_to_response(
                self.get_context_data(form=self.get_form(), locked_for=wait), status=429
            )
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        throttle.record_login_success(form.cleaned_data["username"])
        return super().form_valid(form)

    def form_invalid(self, form):
        username = clean_username(self.request.POST.get("username", ""))
        throttle.record_login_failure(username, clientaddress.of(self.request.META))
        return super().form_invalid(form)


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

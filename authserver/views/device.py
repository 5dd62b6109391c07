"""RFC 8628, the device authorization grant: DOT's endpoint and pages, held to this server's rules.

- ``DeviceAuthorizationView`` (``POST /oauth/device_authorization/``): a client registered for the
  device grant gets a device code, a user code and where to enter it (§3.1-3.2).
- ``DeviceUserCodeView`` (``/oauth/device/``, the ``verification_uri``): a signed-in person enters the
  code; wrong codes are counted per address (``throttle``). A remembered consent covering the request
  approves it at once, as on the authorization endpoint.
- ``DeviceConfirmView``: the consent page (the same template and rules as the authorization
  endpoint's, ``approvals``): scopes narrowed to the person's roles, untickable, the decision
  rememberable.
- ``DeviceGrantStatusView``: what was decided; the device learns it by polling the token endpoint.
"""

from __future__ import annotations

from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.views.decorators.cache import never_cache
from oauth2_provider import views as dot_views
from oauth2_provider.models import get_application_model

from observability import clientaddress

from .. import approvals, devices, grants, resource_indicators, throttle
from ..exceptions import oauth_error, oauthlib_response
from ..forms import DeviceDecisionForm, UserCodeForm
from ..server import DeviceServer
from .pages import PageSecurityMixin
from .tokens import FormBodyMixin, client_id_of

# RFC 8628 §3.2: what the device is told (oauthlib also echoes the scopes, which the user decides).
ANSWER = (
    "device_code",
    "user_code",
    "verification_uri",
    "verification_uri_complete",
    "expires_in",
    "interval",
)


class DeviceOffered:
    """Every device view answers only while the device grant is offered (``OAUTH_DEVICE_GRANT``)."""

    def dispatch(self, request, *args, **kwargs):
        if not grants.is_offered(grants.DEVICE_CODE):
            raise Http404("The device grant is not offered.")
        return super().dispatch(request, *args, **kwargs)


@method_decorator(never_cache, name="dispatch")
class DeviceAuthorizationView(FormBodyMixin, dot_views.DeviceAuthorizationView):
    """DOT's device authorization endpoint with this server's rules (``server.DeviceServer``), the
    token endpoint's flood limit, and the device's resources recorded with its codes.

    A confidential client authenticating with HTTP Basic need not repeat its ``client_id`` in the body
    (RFC 8628 §3.1); errors are RFC 6749 JSON, and the grant switched off is ``unsupported_grant_type``.
    """

    server_class = DeviceServer

    def post(self, request, *args, **kwargs):
        if not grants.is_offered(grants.DEVICE_CODE):
            return oauth_error("unsupported_grant_type", "This server does not offer the device grant.", 400)
        client_id = client_id_of(request)
        wait = throttle.token_requests_exceeded(client_id, clientaddress.of(request.META))
        if wait:
            response = oauth_error("temporarily_unavailable", "Too many requests for this client.", 429)
            response["Retry-After"] = str(wait)
            return response
        if client_id and "client_id" not in request.POST:
            request.POST = request.POST.copy()
            request.POST["client_id"] = client_id
        headers, answer, status = self.create_device_authorization_response(request)
        if status != 200:
            return oauthlib_response(answer, status, headers, realm="device_authorization")
        audience = resource_indicators.audience(request.POST.getlist("resource"))
        devices.begin(request.POST["client_id"], answer, audience)
        response = JsonResponse({name: answer[name] for name in ANSWER if answer.get(name) is not None})
        response["Cache-Control"] = "no-store"
        return response


class DeviceUserCodeView(DeviceOffered, PageSecurityMixin, dot_views.DeviceUserCodeView):
    """Where a person enters the code their device shows (signed in first, through the login page)."""

    template_name = "authserver/device_code.html"
    form_class = UserCodeForm

    def post(self, request, *args, **kwargs):
        wait = throttle.user_code_lockout(clientaddress.of(request.META))
        if wait:
            context = self.get_context_data(form=self.get_form(), locked_for=wait)
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        throttle.record_user_code_failure(clientaddress.of(self.request.META))
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def form_valid(self, form):
        """DOT binds the device to the person and sends them to the consent page; a remembered consent
        that covers the request approves it here instead, through the same decision."""
        response = super().form_valid(form)
        device, user = self.device_grant, self.request.user
        application = get_object_or_404(get_application_model(), client_id=device.client_id)
        if devices.remembered(device, application, user):
            devices.decide(device, user, devices.offered(device, application, user))
            return HttpResponseRedirect(_status_url(device))
        return response


class DeviceConfirmView(DeviceOffered, PageSecurityMixin, dot_views.DeviceConfirmView):
    """The consent page for a device, as for any client: Allow or Deny, scopes untickable, the
    decision rememberable. Only the person who entered the code sees it, while it is undecided."""

    template_name = "authserver/consent.html"
    form_class = DeviceDecisionForm

    def get_object(self):
        device = super().get_object()
        if device.is_expired():
            raise Http404("This code has expired.")
        return device

    @cached_property
    def application(self):
        return get_object_or_404(get_application_model(), client_id=self.kwargs["client_id"])

    def offered(self) -> list[str]:
        return devices.offered(self.get_object(), self.application, self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        offered = self.offered()
        context.update(approvals.page_context(self.application, offered), device=self.get_object())
        if not offered:
            description = "You may not grant any of the requested scopes to this client."
            context["error"] = {"error": "invalid_scope", "description": description}
        return context

    def form_valid(self, form):
        device = self.get_object()
        allowed = form.cleaned_data["action"] == "accept"
        granted = approvals.kept(self.request, self.offered()) if allowed else []
        if devices.decide(device, self.request.user, granted) and granted:
            approvals.remember_if_asked(self.request, self.application, granted, devices.audience(device))
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form):
        description = "The form was incomplete or changed."
        context = self.get_context_data(
            form=form, error={"error": "invalid_request", "description": description}
        )
        return self.render_to_response(context, status=400)


class DeviceGrantStatusView(DeviceOffered, PageSecurityMixin, dot_views.DeviceGrantStatusView):
    """What the person decided for the device."""

    template_name = "authserver/device_done.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["application"] = (
            get_application_model().objects.filter(client_id=self.kwargs["client_id"]).first()
        )
        return context


def _status_url(device) -> str:
    return reverse(
        "oauth2_provider:device-grant-status",
        kwargs={"client_id": device.client_id, "user_code": device.user_code},
    )

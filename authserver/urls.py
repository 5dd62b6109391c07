"""URLs of the authorization server. OAuth endpoints keep DOT's namespace so its views resolve them."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from .views import authorize, device, pages, registration, tokens, wellknown

oauth_patterns = [
    path("oauth/authorize/", authorize.AuthorizationView.as_view(), name="authorize"),
    path("oauth/token/", tokens.TokenView.as_view(), name="token"),
    # RFC 8628: the device's endpoint, then the person's pages (DOT's names, which its views reverse).
    path(
        "oauth/device_authorization/", device.DeviceAuthorizationView.as_view(), name="device-authorization"
    ),
    path("oauth/device/", device.DeviceUserCodeView.as_view(), name="device"),
    path(
        "oauth/device/<str:client_id>/<str:user_code>/",
        device.DeviceConfirmView.as_view(),
        name="device-confirm",
    ),
    path(
        "oauth/device/<str:client_id>/<str:user_code>/done/",
        device.DeviceGrantStatusView.as_view(),
        name="device-grant-status",
    ),
    path("oauth/revoke/", tokens.RevokeTokenView.as_view(), name="revoke-token"),
    path("oauth/introspect/", tokens.IntrospectTokenView.as_view(), name="introspect"),
    path(
        ".well-known/oauth-authorization-server",
        wellknown.ServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
    path("oauth/register/", registration.RegistrationView.as_view(), name="dcr-register"),
    path(
        "oauth/register/<str:client_id>/",
        registration.RegistrationManagementView.as_view(),
        name="dcr-register-management",
    ),
]

urlpatterns = [
    path("", include((oauth_patterns, "oauth2_provider"))),
    path(".well-known/jwks.json", wellknown.JwksView.as_view(), name="jwks"),
    path("accounts/login/", pages.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", pages.AccountView.as_view(), name="account"),
    path(
        "accounts/consents/<int:pk>/withdraw/", pages.ConsentWithdrawView.as_view(), name="consent-withdraw"
    ),
]

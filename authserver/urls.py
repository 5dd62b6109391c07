"""URLs of the authorization server. OAuth endpoints keep DOT's namespace so its views resolve them."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

oauth_patterns = [
    path("oauth/authorize/", views.AuthorizationView.as_view(), name="authorize"),
    path("oauth/token/", views.TokenView.as_view(), name="token"),
    path("oauth/revoke/", views.RevokeTokenView.as_view(), name="revoke-token"),
    path("oauth/introspect/", views.IntrospectTokenView.as_view(), name="introspect"),
    path(".well-known/oauth-authorization-server", views.ServerMetadataView.as_view(), name="oauth-server-metadata"),
    path("oauth/register/", views.RegistrationView.as_view(), name="dcr-register"),
    path(
        "oauth/register/<str:client_id>/",
        views.RegistrationManagementView.as_view(),
        name="dcr-register-management",
    ),
]

urlpatterns = [
    path("", include((oauth_patterns, "oauth2_provider"))),
    path(".well-known/jwks.json", views.JwksView.as_view(), name="jwks"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", views.AccountView.as_view(), name="account"),
    path(
        "accounts/consents/<int:pk>/withdraw/", views.ConsentWithdrawView.as_view(), name="consent-withdraw"
    ),
]

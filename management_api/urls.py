"""``/api/v1/`` (the management API), ``/api/schema/`` (its OpenAPI 3 document) and ``/api/docs/``
(Swagger UI, served from this server's static files)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from .views.clients import ClientViewSet, ConsentViewSet, TokenViewSet
from .views.federation import FederatedIdentityViewSet, IdentityProviderViewSet
from .views.identity import RoleViewSet, ScopeViewSet, UserViewSet
from .views.keys import SigningKeyViewSet
from .views.mcp import AuditRecordViewSet, ToolPolicyViewSet
from .views.registration import InitialAccessTokenViewSet

router = SimpleRouter()
router.register("users", UserViewSet, basename="user")
router.register("roles", RoleViewSet, basename="role")
router.register("scopes", ScopeViewSet, basename="scope")
router.register("clients", ClientViewSet, basename="client")
router.register("tokens", TokenViewSet, basename="token")
router.register("consents", ConsentViewSet, basename="consent")
router.register("signing-keys", SigningKeyViewSet, basename="signing-key")
router.register("initial-access-tokens", InitialAccessTokenViewSet, basename="initial-access-token")
router.register("identity-providers", IdentityProviderViewSet, basename="identity-provider")
router.register("federated-identities", FederatedIdentityViewSet, basename="federated-identity")
router.register("tool-policies", ToolPolicyViewSet, basename="tool-policy")
router.register("audit-records", AuditRecordViewSet, basename="audit-record")

app_name = "management_api"
urlpatterns = [
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="management_api:schema"), name="docs"),
]

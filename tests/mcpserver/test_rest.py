"""The DRF classes of ``mcpserver.rest``: the /mcp verifier and deny-list behind a two-line DRF view."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from mcpserver import auth
from mcpserver.rest import BearerAuthentication, HasRole, HasScopes, ServicePrincipal
from tests.mcpserver.test_auth import PRM

pytestmark = pytest.mark.django_db

OTHER_API = "https://api.example.test/v1"


class Notes(APIView):
    authentication_classes = [BearerAuthentication]
    permission_classes = [HasScopes("mcp:read", "mcp:tools")]

    def get(self, request):
        token = request.auth
        return Response({
            "user": str(request.user), "client": token.client_id, "scopes": sorted(token.scopes)
        })


class DeclaredScopes(Notes):
    permission_classes = [HasScopes]
    required_scopes = ["mcp:prompts"]


class Undeclared(Notes):
    permission_classes = [HasScopes]


class AdminsOnly(Notes):
    permission_classes = [HasRole("admin")]


class ComposedAdminsOnly(Notes):
    permission_classes = [IsAuthenticated & HasRole("admin") & HasScopes("mcp:read")]


def call(view, token: str | None = None, user=None):
    request = APIRequestFactory().get("/notes/", HTTP_AUTHORIZATION=f"Bearer {token}" if token else "")
    if user is not None:
        force_authenticate(request, user=user)
    response = view.as_view()(request)
    response.render()
    return response


def challenge(response) -> dict[str, str]:
    from tests.mcpserver.test_auth import challenge_params

    return challenge_params(response)


def test_a_token_for_mcp_works_for_the_rest_api(issue):
    response = call(Notes, issue(scopes=["mcp:read", "mcp:tools"]))
    assert response.status_code == 200, response.data
    assert response.data["user"].startswith("user-")
    assert response.data["scopes"] == ["mcp:read", "mcp:tools"]


def test_no_token_is_401_with_a_challenge_naming_the_views_scopes():
    response = call(Notes)
    assert response.status_code == 401
    params = challenge(response)
    assert "error" not in params
    assert params["scope"] == "mcp:read mcp:tools"
    assert params["resource_metadata"] == PRM


@pytest.mark.parametrize("bad", ["garbage", "a.b.c", "tok en"])
def test_a_bad_token_is_401_invalid_token(bad):
    response = call(Notes, bad)
    assert response.status_code == 401
    assert challenge(response)["error"] == "invalid_token"
    assert response.data["detail"].code == "invalid_token"


def test_other_schemes_are_left_to_other_authentication_classes():
    request = APIRequestFactory().get("/notes/", HTTP_AUTHORIZATION="Basic YTpi")
    assert BearerAuthentication().authenticate(request) is None


def test_a_token_short_of_a_scope_is_403_insufficient_scope_naming_every_scope(issue):
    response = call(Notes, issue(scopes=["mcp:read"]))
    assert response.status_code == 403
    params = challenge(response)
    assert params["error"] == "insufficient_scope"
    assert params["scope"] == "mcp:read mcp:tools"
    assert response.data["detail"].code == "insufficient_scope"


def test_scopes_may_be_declared_on_the_view(issue):
    assert call(DeclaredScopes, issue(scopes=["mcp:prompts"])).status_code == 200
    response = call(DeclaredScopes, issue(scopes=["mcp:read"]))
    assert challenge(response)["scope"] == "mcp:prompts"


def test_a_view_naming_no_scope_is_a_configuration_error(issue):
    with pytest.raises(ImproperlyConfigured):
        call(Undeclared, issue())


def test_a_revoked_token_is_refused_at_once(issue):
    from authserver import revoking

    token = issue()
    assert call(Notes, token).status_code == 200
    revoking.revoke_tokens()  # every token: the one above is the only one
    response = call(Notes, token)
    assert response.status_code == 401
    assert "revoked" in challenge(response)["error_description"]


def test_a_deactivated_users_token_is_refused(sign, make_user):
    user = make_user("gone", is_active=False)
    response = call(Notes, sign({"sub": str(user.pk), "username": "gone"}))
    assert response.status_code == 401
    assert challenge(response)["error"] == "invalid_token"


def test_a_subject_that_is_no_user_key_is_401_not_500(sign):
    assert call(Notes, sign({"sub": "not-a-number"})).status_code == 401


def test_a_client_acting_for_itself_is_a_service_principal(sign, application):
    token = sign({"sub": application.client_id, "roles": []}, remove=("username",))
    response = call(Notes, token)
    assert response.status_code == 200
    assert response.data["user"] == f"client {application.client_id}"
    principal = BearerAuthentication().get_user(auth.authenticate(f"Bearer {token}"))
    assert principal == ServicePrincipal(application.client_id)
    assert principal.is_authenticated and not principal.is_staff and not principal.has_perm("any.thing")


@pytest.fixture
def user_claims(make_user) -> dict:
    """Claims naming a real, active user (``sign``'s own subject is nobody)."""
    user = make_user("signed")
    return {"sub": str(user.pk), "username": "signed"}


def test_roles_come_from_the_token(sign, user_claims):
    assert call(AdminsOnly, sign({**user_claims, "roles": ["admin"]})).status_code == 200
    response = call(AdminsOnly, sign({**user_claims, "roles": ["user"]}))
    assert response.status_code == 403
    assert str(response.data["detail"]) == "This operation needs one of these roles: admin."


def test_the_permissions_compose_with_drfs_operators(sign, user_claims):
    assert call(ComposedAdminsOnly, sign({**user_claims, "roles": ["admin"]})).status_code == 200
    assert call(ComposedAdminsOnly, sign({**user_claims, "roles": ["user"]})).status_code == 403
    short = call(ComposedAdminsOnly, sign({**user_claims, "roles": ["admin"], "scope": "mcp:tools"}))
    assert challenge(short)["error"] == "insufficient_scope"


def test_a_session_user_has_no_token_and_is_refused(make_user):
    response = call(Notes, user=make_user("session-user"))
    assert response.status_code == 403


def test_the_audience_is_a_setting(settings, issue, sign, user_claims):
    mcp_token = issue()
    assert call(Notes, mcp_token).status_code == 200  # verified and cached for the MCP resource
    settings.MCPSERVER = {**settings.MCPSERVER, "REST_AUDIENCE": OTHER_API}
    refused = call(Notes, mcp_token)
    assert refused.status_code == 401
    assert challenge(refused)["error_description"] == "The access token was not issued for this resource."
    assert "resource_metadata" not in challenge(refused)  # that metadata describes another resource
    both = sign({**user_claims, "aud": [settings.MCPSERVER["RESOURCE_URL"], OTHER_API]})
    assert call(Notes, both).status_code == 200


def test_mcp_refuses_a_token_verified_for_another_audience(settings, sign, mcp, user_claims):
    settings.MCPSERVER = {**settings.MCPSERVER, "REST_AUDIENCE": OTHER_API}
    token = sign({**user_claims, "aud": OTHER_API})
    assert call(Notes, token).status_code == 200  # cached, for OTHER_API only
    assert mcp.modern("tools/list", token=token).status_code == 401


def test_a_trusted_issuers_token_names_its_user_by_username(settings, make_user):
    """A Keycloak token: the local user is the one its ``preferred_username`` names."""
    from tests.mcpserver.keycloak import Realm

    realm = Realm().serve()
    try:
        issuer = {"issuer": realm.issuer, "preset": "keycloak"}
        settings.MCPSERVER = {**settings.MCPSERVER, "TRUSTED_ISSUERS": [issuer]}
        token = realm.token(["http://127.0.0.1:8000/mcp", "account"])
        assert call(Notes, token).status_code == 401  # no local user kim
        make_user("kim")
        response = call(Notes, token)
        assert response.status_code == 200, response.data
        assert response.data["user"] == "kim"
        assert response.data["client"] == "mcp-inspector"
    finally:
        realm.stop()


def test_a_dpop_bound_token_works_with_a_proof_of_the_request_uri(sign, user_claims):
    from tests.dpopclient import DpopKey

    key = DpopKey()
    token = sign({**user_claims, "cnf": {"jkt": key.thumbprint}})

    def dpop_call(proof, scheme="DPoP"):
        headers = {"HTTP_AUTHORIZATION": f"{scheme} {token}", "HTTP_DPOP": proof}
        response = Notes.as_view()(APIRequestFactory().get("/notes/?page=2", **headers))
        response.render()
        return response

    assert dpop_call(key.proof("GET", "http://testserver/notes/", token)).status_code == 200
    refused = dpop_call(key.proof("GET", "http://testserver/other/", token))
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith('DPoP error="invalid_dpop_proof"')
    assert dpop_call(key.proof("GET", "http://testserver/notes/", token), scheme="Bearer").status_code == 401

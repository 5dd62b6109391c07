"""RFC 9449 §10: ``dpop_jkt`` on /authorize binds the code to a DPoP key; the token request redeeming
the code must prove that key, whichever way the code was issued (consent page, remembered consent,
a client an administrator lets skip the page)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.conf import settings
from oauth2_provider.models import get_grant_model

from authserver import dpop_jkt
from authserver.models import AuthorizationCodeBinding, ClientPolicy
from tests.dpopclient import DpopKey

from .conftest import AUTHORIZE_URL, FORM, REDIRECT_URI, TOKEN_URL, hidden_fields, pkce_pair, redirect_params
from .test_consent import consent_flow, open_page  # noqa: F401 (a fixture)

HTU = settings.OAUTH_ISSUER + TOKEN_URL


@pytest.fixture(scope="module")
def key():
    return DpopKey("ES256")


def redeem(world, post_token, code, verifier, proof_key=None):
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": world.clients["web"].client_id,
        "code_verifier": verifier,
    }
    headers = {} if proof_key is None else {"HTTP_DPOP": proof_key.proof("POST", HTU)}
    return post_token(body, **headers)


def code_for(world, authorize, **params):
    verifier, challenge = pkce_pair()
    web = world.clients["web"].client_id
    response = authorize(world.users["alice"], web, "mcp:read", challenge, **params)
    return verifier, redirect_params(response)


# --- the parameter's shape ---


def test_a_keys_thumbprint_is_well_formed():
    assert dpop_jkt.well_formed(DpopKey("ES256").thumbprint)
    assert dpop_jkt.well_formed(DpopKey("RS256").thumbprint)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        DpopKey().thumbprint + "=",  # padded
        DpopKey().thumbprint[:42],  # too short
        DpopKey().thumbprint + "A",  # too long
        "+" * 43,  # base64, not base64url
        "A" * 42 + "B",  # the last character's spare bits set: not the spelling of any digest
        "é" * 43,
    ],
    # Named, not numbered by their values: a thumbprint is random, and pytest-xdist's workers must
    # collect the same test ids.
    ids=["empty", "abc", "padded", "too-short", "too-long", "base64", "spare-bits", "not-ascii"],
)
def test_anything_else_is_malformed(value):
    assert not dpop_jkt.well_formed(value)


# --- binding and redeeming ---


def test_a_bound_code_is_redeemed_with_a_proof_of_that_key(world, authorize, post_token, decode, key):
    verifier, params = code_for(world, authorize, dpop_jkt=key.thumbprint)
    assert AuthorizationCodeBinding.objects.get(grant__code=params["code"]).jkt == key.thumbprint
    response = redeem(world, post_token, params["code"], verifier, key)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert decode(body["access_token"])["cnf"] == {"jkt": key.thumbprint}
    assert not AuthorizationCodeBinding.objects.exists()  # spent with its code


@pytest.mark.parametrize("proof_key", [DpopKey("ES256"), None], ids=["another-key", "no-proof"])
def test_a_bound_code_is_refused_without_a_proof_of_that_key(world, authorize, post_token, key, proof_key):
    verifier, params = code_for(world, authorize, dpop_jkt=key.thumbprint)
    response = redeem(world, post_token, params["code"], verifier, proof_key)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "DPoP key" in response.json()["error_description"]


def test_an_unbound_code_takes_the_key_of_its_proof(world, authorize, post_token, decode, key):
    verifier, params = code_for(world, authorize)
    assert not AuthorizationCodeBinding.objects.exists()
    response = redeem(world, post_token, params["code"], verifier, key)
    assert response.status_code == 200, response.content
    assert decode(response.json()["access_token"])["cnf"] == {"jkt": key.thumbprint}


def test_a_dpop_bound_client_may_omit_dpop_jkt(world, authorize, post_token, key):
    policy = ClientPolicy.objects.filter(application=world.clients["web"].application)
    assert policy.update(dpop_bound_access_tokens=True) == 1
    verifier, params = code_for(world, authorize)
    response = redeem(world, post_token, params["code"], verifier, key)
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "DPoP"


# --- malformed requests: an error to the client's redirect URI (RFC 6749 §4.1.2.1) ---


@pytest.mark.parametrize(
    "value", ["not-a-thumbprint", "", ["A" * 43, "B" * 42 + "A"]], ids=["malformed", "empty", "twice"]
)
def test_a_malformed_dpop_jkt_is_invalid_request_at_the_redirect_uri(world, client, authorize, value):
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    web = world.clients["web"].client_id
    response = authorize.consent_page(web, "mcp:read", challenge, dpop_jkt=value)
    assert response["Location"].startswith(REDIRECT_URI)
    params = redirect_params(response)
    assert params["error"] == "invalid_request"
    assert "dpop_jkt" in params["error_description"]
    assert params["state"] == "state-123"
    assert params["iss"] == settings.OAUTH_ISSUER


def test_a_malformed_dpop_jkt_in_a_tampered_consent_form_issues_no_code(world, client, authorize, key):
    client.force_login(world.users["alice"])
    _, challenge = pkce_pair()
    page = authorize.consent_page(
        world.clients["web"].client_id, "mcp:read", challenge, dpop_jkt=key.thumbprint
    )
    fields = hidden_fields(page.content)
    assert fields["dpop_jkt"] == key.thumbprint
    body = {**fields, "dpop_jkt": "tampered", "scope_choice": "1", "scopes": "mcp:read", "allow": "Authorize"}
    response = client.post(AUTHORIZE_URL, urlencode(body), content_type=FORM)
    params = redirect_params(response)
    assert params["error"] == "invalid_request"
    assert params["iss"] == settings.OAUTH_ISSUER
    assert not get_grant_model().objects.exists()


# --- codes issued without the consent page ---


def test_a_remembered_consent_binds_the_code_too(world, client, consent_flow, post_token, key):  # noqa: F811
    consent_flow(scope="mcp:read")
    verifier, challenge = pkce_pair()
    params = redirect_params(open_page(client, world, challenge, "mcp:read", dpop_jkt=key.thumbprint))
    assert AuthorizationCodeBinding.objects.get(grant__code=params["code"]).jkt == key.thumbprint
    assert redeem(world, post_token, params["code"], verifier, DpopKey()).json()["error"] == "invalid_grant"


def test_a_client_skipping_authorization_binds_the_code_too(world, client, post_token, key):
    web = world.clients["web"].application
    web.skip_authorization = True
    web.save()
    client.force_login(world.users["alice"])
    verifier, challenge = pkce_pair()
    params = redirect_params(open_page(client, world, challenge, "mcp:read", dpop_jkt=key.thumbprint))
    assert AuthorizationCodeBinding.objects.get(grant__code=params["code"]).jkt == key.thumbprint
    assert redeem(world, post_token, params["code"], verifier, key).status_code == 200

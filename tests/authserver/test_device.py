"""RFC 8628 end to end in process: the device authorization endpoint, the user-code page, the consent
page (remembered consent included), polling answers and their pace, resources and scope narrowing."""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

import jwt
import pytest
from oauth2_provider.models import get_device_grant_model

from authserver import grants
from authserver.models import Consent, DeviceAudience, Scope

from .conftest import FORM, basic
from .test_token_endpoint import assert_oauth_error

DEVICE = grants.DEVICE_CODE
ENDPOINT, PAGE = "/oauth/device_authorization/", "/oauth/device/"
MCP = "http://127.0.0.1:8000/mcp"
DeviceGrant = get_device_grant_model()


@pytest.fixture
def tv(world, make_client):
    """A public device client; its ceiling: read, tools, prompts."""
    return make_client("Living-room TV", DEVICE, ["mcp:read", "mcp:tools", "mcp:prompts"], public=True)


@pytest.fixture
def begin(client, tv):
    """POST to the device authorization endpoint; the response."""

    def run(client_id: str | None = None, auth=None, **data):
        body = {"client_id": client_id or tv.client_id, **data} if auth is None else data
        extra = {"HTTP_AUTHORIZATION": basic(*auth)} if auth else {}
        return client.post(ENDPOINT, urlencode(body, doseq=True), content_type=FORM, **extra)

    return run


@pytest.fixture
def started(begin):
    def run(**data) -> dict:
        response = begin(**data)
        assert response.status_code == 200, response.content
        return response.json()

    return run


@pytest.fixture
def poll(post_token, tv):
    def run(device_code: str, **data):
        return post_token(
            {"grant_type": DEVICE, "device_code": device_code, "client_id": tv.client_id, **data}
        )

    return run


@pytest.fixture
def enter(client):
    """A signed-in person enters a user code on the page; the response."""

    def run(user, user_code: str):
        client.force_login(user)
        return client.post(PAGE, {"user_code": user_code})

    return run


@pytest.fixture
def decide(client, enter):
    """Enter the code and answer the consent page; the consent page's response (a redirect)."""

    def run(
        user, user_code: str, action: str = "accept", ticked: list[str] | None = None, remember: bool = False
    ):
        entered = enter(user, user_code)
        assert entered.status_code == 302, entered.content
        page = client.get(entered["Location"])
        assert page.status_code == 200, page.content
        shown = [name for name, _ in page.context["scope_items"]]
        body = {"action": action, "scope_choice": "1", "scopes": shown if ticked is None else ticked}
        if remember:
            body["remember"] = "1"
        return client.post(entered["Location"], urlencode(body, doseq=True), content_type=FORM)

    return run


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


# --- the device authorization endpoint (RFC 8628 §3.1-3.2) ---


def test_a_device_gets_its_codes_and_where_to_enter_them(begin, tv):
    response = begin(scope="mcp:read mcp:admin nope")
    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert set(body) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert re.fullmatch(r"[0-9A-V]{8}", body["user_code"])
    assert body["verification_uri"] == "http://127.0.0.1:8000/oauth/device/"
    assert body["verification_uri_complete"] == f"{body['verification_uri']}?user_code={body['user_code']}"
    assert (body["expires_in"], body["interval"]) == (600, 5)
    device = DeviceGrant.objects.get(device_code=body["device_code"])
    assert (device.client_id, device.status, device.interval) == (
        tv.client_id,
        device.AUTHORIZATION_PENDING,
        5,
    )
    assert device.scope == "mcp:read"  # narrowed to the ceiling; the user's roles narrow it later
    assert DeviceAudience.objects.get(device_grant=device).resource == [MCP]


def test_a_role_only_scope_waits_for_the_users_roles(world, started, decide, poll):
    Scope.objects.filter(name="mcp:tools").update(role_only=True)
    body = started(scope="mcp:read mcp:tools")
    assert DeviceGrant.objects.get(device_code=body["device_code"]).scope == "mcp:read mcp:tools"
    decide(world.users["alice"], body["user_code"])  # alice's writer role grants tools
    assert poll(body["device_code"]).json()["scope"] == "mcp:read mcp:tools"


def test_a_confidential_device_client_authenticates_and_may_use_basic_alone(world, make_client, begin):
    kiosk = make_client("Kiosk", DEVICE, ["mcp:read"])
    response = begin(auth=(kiosk.client_id, kiosk.client_secret), scope="mcp:read")
    assert response.status_code == 200, response.content
    assert_oauth_error(begin(auth=(kiosk.client_id, "wrong"), scope="mcp:read"), 401, "invalid_client")
    assert_oauth_error(begin(client_id=kiosk.client_id), 401, "invalid_client")


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        ({"client_id": "nobody"}, 401, "invalid_client"),
        ({"resource": "https://elsewhere.example/api"}, 400, "invalid_target"),
        ({"scope": "mcp:admin"}, 400, "invalid_scope"),
    ],
)
def test_bad_device_authorization_requests_get_rfc6749_errors(begin, data, status, error):
    assert_oauth_error(begin(**data), status, error)
    assert not DeviceGrant.objects.exists()


def test_a_client_registered_for_another_grant_is_unauthorized(world, begin):
    body = assert_oauth_error(begin(client_id=world.clients["cli"].client_id), 400, "unauthorized_client")
    assert "password" in body["error_description"]


def test_the_endpoint_takes_only_form_posts(client, tv):
    assert_oauth_error(client.get(ENDPOINT), 405, "invalid_request")
    response = client.post(ENDPOINT, {"client_id": tv.client_id})  # multipart
    assert_oauth_error(response, 400, "invalid_request")


def test_device_authorizations_count_against_the_token_rate_limit(settings, begin):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "TOKEN_RATE_LIMIT": 2}
    assert [begin().status_code for _ in range(2)] == [200, 200]
    limited = assert_oauth_error(begin(), 429, "temporarily_unavailable")
    assert limited


# --- the user-code page ---


def test_the_page_asks_for_sign_in_first_and_keeps_the_code(client, started):
    body = started()
    response = client.get(body["verification_uri_complete"])
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert body["user_code"] in response["Location"]


def test_the_page_is_prefilled_strict_and_uncached(world, client, started):
    body = started()
    client.force_login(world.users["alice"])
    page = client.get(body["verification_uri_complete"])
    assert page.status_code == 200
    assert page.context["form"].initial["user_code"] == body["user_code"]
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert "no-store" in page["Cache-Control"]


def test_a_code_is_read_without_case_or_dashes(world, started, enter):
    code = started()["user_code"]
    typed = f"{code[:4].lower()}-{code[4:].lower()} "
    response = enter(world.users["alice"], typed)
    assert response.status_code == 302
    assert response["Location"] == f"/oauth/device/{DeviceGrant.objects.get().client_id}/{code}/"


@pytest.mark.parametrize("state", ["unknown", "expired", "decided"])
def test_every_unusable_code_gets_the_same_answer(world, started, enter, state):
    code = started()["user_code"]
    if state == "expired":
        DeviceGrant.objects.update(expires="2000-01-01T00:00:00Z")
    elif state == "decided":
        DeviceGrant.objects.update(status=DeviceGrant.DENIED)
    response = enter(world.users["alice"], "ZZZZZZZZ" if state == "unknown" else code)
    assert response.status_code == 400
    assert "not valid: it may be mistyped, expired or already used" in response.content.decode()


def test_wrong_codes_lock_the_address_out(world, settings, started, enter):
    settings.AUTHSERVER = {**settings.AUTHSERVER, "DEVICE_USER_CODE_ATTEMPTS": 3}
    code = started()["user_code"]
    assert [enter(world.users["alice"], f"WRONG{i}").status_code for i in range(3)] == [400] * 3
    locked = enter(world.users["guest"], code)  # the right code, another person, the same address
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    assert "Too many wrong codes" in locked.content.decode()
    assert DeviceGrant.objects.get().status == DeviceGrant.AUTHORIZATION_PENDING


# --- the consent page and polling (RFC 8628 §3.3-3.5) ---


def test_the_consent_page_shows_what_the_user_may_grant(world, client, started, enter):
    body = started(scope="mcp:read mcp:tools mcp:prompts")
    entered = enter(world.users["alice"], body["user_code"])
    page = client.get(entered["Location"])
    assert page.status_code == 200
    assert [name for name, _ in page.context["scope_items"]] == [
        "mcp:read",
        "mcp:tools",
    ]  # writer: no prompts
    html = page.content.decode()
    assert "Living-room TV" in html and body["user_code"] in html and 'value="accept"' in html


def test_pending_then_approved_gives_one_token_for_the_user_and_resource(world, started, decide, poll):
    body = started(scope="mcp:read mcp:tools", resource=MCP)
    assert_oauth_error(poll(body["device_code"]), 400, "authorization_pending")
    done = decide(world.users["alice"], body["user_code"], ticked=["mcp:read"])
    assert done.status_code == 302 and done["Location"].endswith("/done/")
    token = poll(body["device_code"])
    assert token.status_code == 200, token.content
    issued = token.json()
    assert issued["scope"] == "mcp:read" and issued["refresh_token"]
    assert claims(issued["access_token"])["sub"] == str(world.users["alice"].pk)
    assert claims(issued["access_token"])["aud"] == MCP
    assert_oauth_error(poll(body["device_code"]), 400, "expired_token")  # spent


def test_the_done_page_says_what_was_decided(world, client, started, decide):
    body = started()
    done = decide(world.users["alice"], body["user_code"])
    page = client.get(done["Location"])
    assert page.status_code == 200 and "Device connected" in page.content.decode()


def test_denied_is_access_denied(world, started, decide, poll):
    body = started()
    decide(world.users["alice"], body["user_code"], action="deny")
    assert_oauth_error(poll(body["device_code"]), 400, "access_denied")


def test_unticking_every_scope_denies(world, started, decide, poll):
    body = started()
    decide(world.users["alice"], body["user_code"], ticked=[])
    assert_oauth_error(poll(body["device_code"]), 400, "access_denied")


def test_a_tampered_decision_changes_nothing(world, client, started, enter):
    body = started()
    entered = enter(world.users["alice"], body["user_code"])
    response = client.post(entered["Location"], {"action": "maybe"})
    assert response.status_code == 400
    assert DeviceGrant.objects.get().status == DeviceGrant.AUTHORIZATION_PENDING


def test_only_the_person_who_entered_the_code_may_decide(world, client, started, enter):
    body = started()
    entered = enter(world.users["alice"], body["user_code"])
    client.force_login(world.users["guest"])
    assert client.get(entered["Location"]).status_code == 404
    assert client.post(entered["Location"], {"action": "accept"}).status_code == 404


def test_an_expired_code_cannot_be_approved(world, client, started, enter, poll):
    body = started()
    entered = enter(world.users["alice"], body["user_code"])
    DeviceGrant.objects.update(expires="2000-01-01T00:00:00Z")
    assert client.post(entered["Location"], {"action": "accept"}).status_code == 404
    assert_oauth_error(poll(body["device_code"]), 400, "expired_token")


def test_a_remembered_consent_approves_at_once(world, client, started, decide, enter, poll):
    first = started(scope="mcp:read mcp:tools")
    decide(world.users["alice"], first["user_code"], remember=True)
    consent = Consent.objects.get(user=world.users["alice"])
    assert (consent.resource, consent.scope_names()) == (MCP, {"mcp:read", "mcp:tools"})
    second = started(scope="mcp:read")
    entered = enter(world.users["alice"], second["user_code"])
    assert entered.status_code == 302 and entered["Location"].endswith("/done/")
    assert poll(second["device_code"]).json()["scope"] == "mcp:read"
    # A request beyond what was remembered shows the page again.
    third = started(scope="mcp:read mcp:prompts")
    world.users["alice"].roles.add(world.roles["prompter"])
    assert not enter(world.users["alice"], third["user_code"])["Location"].endswith("/done/")


def test_polling_faster_than_the_interval_slows_the_device_down(settings, started, poll):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "DEVICE_FLOW_INTERVAL": 2}
    body = started()
    assert body["interval"] == 2
    assert_oauth_error(poll(body["device_code"]), 400, "authorization_pending")
    assert_oauth_error(poll(body["device_code"]), 400, "slow_down")
    assert DeviceGrant.objects.get().interval == 2 + 5  # "for this and all subsequent requests"
    time.sleep(1.2)  # the first interval (less a second's leeway) has passed, not the new one
    assert_oauth_error(poll(body["device_code"]), 400, "slow_down")


def test_a_resource_outside_the_devices_is_invalid_target(world, settings, started, decide, poll):
    other = "http://127.0.0.1:8000/other"
    settings.AUTHSERVER = {**settings.AUTHSERVER, "ALLOWED_RESOURCES": [MCP, other]}
    body = started(resource=MCP)
    decide(world.users["alice"], body["user_code"])
    assert_oauth_error(poll(body["device_code"], resource=other), 400, "invalid_target")


def test_a_device_token_refreshes_like_any_user_token(world, started, decide, poll, post_token, tv):
    body = started()
    decide(world.users["alice"], body["user_code"])
    issued = poll(body["device_code"]).json()
    refreshed = post_token(
        {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"], "client_id": tv.client_id}
    )
    assert refreshed.status_code == 200, refreshed.content
    assert claims(refreshed.json()["access_token"])["sub"] == str(world.users["alice"].pk)

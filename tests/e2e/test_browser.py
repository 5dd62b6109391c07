"""A real browser (Debian's Chromium driven by Playwright) on the live server's login, consent,
account and admin pages.

Screenshots of the pages a person sees are written to ``artifacts/screenshots/`` (the committed
copies in ``docs/screenshots/`` come from here). Each test signs in as a user of its own, so that
remembered consents never change what the other e2e tests see on the shared live server.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WEB_CLIENT = "demo-web"
WEB_REDIRECT = "http://127.0.0.1:8765/callback"
SERVICE = ("demo-service", "demo-service-secret")
PASSWORD = "Browser-test-password-42"
# Realistic names: the screenshots in docs/ show them.
USERS = {f"{name}@example.com": "user" for name in ("ann", "ben", "cat", "dee", "eve")}

pytestmark = [
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason=f"Debian's Chromium is not installed at {CHROMIUM}"
    ),
    pytest.mark.usefixtures("no_server_errors"),
]


# --- the browser and the people using it ---


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser profile whose client redirect URI is answered by the test, as the client would."""
    context = browser.new_context(viewport={"width": 900, "height": 900})
    context.route(
        lambda url: url.startswith(WEB_REDIRECT), lambda route: route.fulfill(body="callback reached")
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture(scope="module")
def people(live_server):
    """One user per test, each with the demo ``user`` role, created once through the ORM."""
    lines = ["from authserver.models import Role, User"]
    for username, role in USERS.items():
        lines.append(
            f"u, _ = User.objects.get_or_create(username={username!r}); u.set_password({PASSWORD!r}); "
            f"u.save(); u.roles.set(Role.objects.filter(name={role!r}))"
        )
    live_server.manage("shell", "-c", "\n".join(lines))
    return USERS


def screenshot(page, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def sign_in(page, username: str, password: str = PASSWORD, button: str = "Sign in") -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name=button).click()


def authorize(
    page,
    server,
    username: str,
    scope: str = "mcp:read mcp:tools",
    untick: tuple[str, ...] = (),
    allow: bool = True,
    remember: bool = False,
    shots: str = "",
) -> tuple[dict[str, str], str]:
    """Open the authorize URL, sign in and decide on the consent page; return the callback and verifier."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(12)
    query = {
        "response_type": "code",
        "client_id": WEB_CLIENT,
        "redirect_uri": WEB_REDIRECT,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": server.mcp_url,
    }
    page.goto(f"{server.url}/oauth/authorize/?{urlencode(query)}")
    if "/accounts/login/" in page.url:
        if shots:
            screenshot(page, f"{shots}-login")
        sign_in(page, username)
    page.get_by_role("heading", name=re.compile("^Authorize")).wait_for()
    if shots:
        screenshot(page, f"{shots}-consent")
    for name in untick:
        page.locator(f'input[name="scopes"][value="{name}"]').uncheck()
    page.locator('input[name="remember"]').set_checked(remember)
    with page.expect_request(lambda request: request.url.startswith(WEB_REDIRECT)) as callback:
        page.get_by_role("button", name="Allow" if allow else "Deny").click()
    page.wait_for_url(lambda url: url.startswith(WEB_REDIRECT))
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback.value.url).query).items()}
    assert params.get("state") == state
    return params, verifier


def exchange(server, code: str, verifier: str) -> httpx.Response:
    return httpx.post(
        server.url + "/oauth/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": WEB_REDIRECT,
            "client_id": WEB_CLIENT,
            "code_verifier": verifier,
        },
        timeout=30,
    )


def introspect(server, token: str) -> dict:
    response = httpx.post(server.url + "/oauth/introspect/", data={"token": token}, auth=SERVICE, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def call_mcp(server, token: str) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "b", "version": "1"},
        },
    }
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    return httpx.post(server.mcp_url, json=body, headers=headers, timeout=30)


# --- the flows ---


def choose(page, field: str, label: str) -> None:
    """Move one option to the chosen side of the admin's two-box selector, as a person would."""
    page.locator(f"#id_{field}_from").select_option(label=label)
    page.locator(f"#id_{field}_add").click()


def test_code_flow_through_login_and_consent(page, live_server, people):
    params, verifier = authorize(page, live_server, "ann@example.com", shots="browser")
    assert params["code"] and params["iss"] == live_server.url  # RFC 9207, byte-identical
    assert "callback reached" in page.content()  # the browser landed on the client's redirect URI
    response = exchange(live_server, params["code"], verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and set(body["scope"].split()) == {"mcp:read", "mcp:tools"}
    assert call_mcp(live_server, body["access_token"]).status_code == 200


def test_unticked_scope_is_not_granted(page, live_server, people):
    params, verifier = authorize(
        page, live_server, "ben@example.com", scope="mcp:read mcp:tools mcp:prompts", untick=("mcp:tools",)
    )
    body = exchange(live_server, params["code"], verifier).json()
    assert set(body["scope"].split()) == {"mcp:read", "mcp:prompts"}


def test_deny_returns_access_denied(page, live_server, people):
    params, _ = authorize(page, live_server, "cat@example.com", allow=False)
    assert params["error"] == "access_denied" and "code" not in params
    assert params["iss"] == live_server.url


def test_admin_makes_a_role_and_a_user_who_then_gets_that_scope(browser, page, live_server, people):
    role, username = "prompt-editors", "frank@example.com"
    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto(live_server.url + "/admin/")
    screenshot(page, "admin-login")
    sign_in(page, "admin", "admin-password", button="Log in")
    page.get_by_role("heading", name="Site administration").wait_for()
    screenshot(page, "admin-index", full_page=False)

    page.goto(live_server.url + "/admin/authserver/role/add/")
    page.get_by_label("Name:").fill(role)
    page.get_by_label("Description:").fill("Write and try out the team's prompts")
    choose(page, "scopes", "mcp:prompts")
    screenshot(page, "admin-role", full_page=False)
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator(".messagelist .success").wait_for()
    assert "mcp:prompts" in page.locator("tr", has_text=role).inner_text()

    page.goto(live_server.url + "/admin/authserver/user/add/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    choose(page, "roles", role)
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator(".messagelist .success").wait_for()
    page.locator("#id_roles_to option", has_text=role).wait_for(state="attached")  # saved with the role

    # A self-registered client, as the admin sees it: marked dynamic, with its ceiling, disable action.
    registration = {
        "redirect_uris": ["http://127.0.0.1:33418/callback"],
        "client_name": "Cursor",
    }
    registration["token_endpoint_auth_method"] = "none"
    assert httpx.post(live_server.url + "/oauth/register/", json=registration, timeout=30).status_code == 201
    page.goto(live_server.url + "/admin/oauth2_provider/application/?registration_source__exact=dcr")
    page.get_by_text("Cursor").first.wait_for()
    page.locator("#toggle-nav-sidebar").click()  # room for the columns
    page.locator("#site-name").scroll_into_view_if_needed()
    screenshot(page, "admin-dynamic-clients", full_page=False)
    page.locator("#toggle-nav-sidebar").click()

    fresh = browser.new_context()
    fresh.route(
        lambda url: url.startswith(WEB_REDIRECT), lambda route: route.fulfill(body="callback reached")
    )
    try:
        params, verifier = authorize(fresh.new_page(), live_server, username, scope="mcp:prompts mcp:tools")
    finally:
        fresh.close()
    body = exchange(live_server, params["code"], verifier).json()
    assert body["scope"] == "mcp:prompts"  # the new role's scope, and nothing the role lacks


def test_withdrawn_consent_revokes_the_tokens(page, live_server, people):
    params, verifier = authorize(page, live_server, "dee@example.com", remember=True)
    tokens = exchange(live_server, params["code"], verifier).json()
    assert introspect(live_server, tokens["access_token"])["active"]

    # Remembered: the next authorization for fewer scopes skips the consent page (same profile, new tab).
    tab = page.context.new_page()
    again, _ = authorize_remembered(tab, live_server)
    tab.close()
    assert again["code"] and again["state"] == "again"

    page.goto(live_server.url + "/accounts/")
    page.get_by_role("heading", name="Applications you allowed").wait_for()
    screenshot(page, "account")
    page.get_by_role("button", name=re.compile("^Withdraw access for Demo web app")).click()
    page.get_by_role("status").filter(has_text="withdrawn").wait_for()

    assert not introspect(live_server, tokens["access_token"])["active"]
    assert call_mcp(live_server, tokens["access_token"]).status_code == 401  # the deny-list, on every worker
    refreshed = httpx.post(
        live_server.url + "/oauth/token/",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": WEB_CLIENT,
        },
        timeout=30,
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


def onboard(mcp_url: str, username: str, password: str, shot: str, metadata_url: str | None = None) -> dict:
    """Run an official-SDK MCP host that has never seen this server; a person answers in Chromium."""
    pytest.importorskip("mcp")
    pytest.importorskip("httpx2")
    # Playwright's sync API (the module's browser) holds this thread's event loop: run apart.
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(anyio.run, _onboard, mcp_url, username, password, shot, metadata_url)
        return job.result(timeout=120)


def test_an_mcp_host_onboards_itself_and_calls_a_tool(live_server, people):
    """From nothing but the /mcp URL: the official SDK finds the metadata, registers itself (RFC 7591),
    sends the person to the browser to sign in and consent, exchanges the code and calls a tool."""
    seen = onboard(live_server.mcp_url, "eve@example.com", PASSWORD, "consent-dynamic-client")
    assert seen["echo"] == "from a self-registered client"
    assert seen["client"]["client_id"] and seen["client"]["client_id"] != WEB_CLIENT
    assert seen["whoami"]["client_id"] == seen["client"]["client_id"]
    assert seen["whoami"]["username"] == "eve@example.com"
    assert seen["warning"]  # the consent page said the client is unverified


def test_an_mcp_host_with_a_metadata_document_onboards_itself(tmp_path):
    """The same with a Client ID Metadata Document on a loopback test host, on a server configured to
    fetch it (CIMD on, the host allowed, its private address explicitly allowed, the test CA trusted)."""
    from tests.authserver.cimd_server import DocumentServer
    from tests.e2e.liveserver import LiveServer

    documents = DocumentServer(tmp_path)
    env = {
        "CIMD_ENABLED": "true",
        "CIMD_ALLOWED_HOSTS": "localhost",
        "CIMD_PRIVATE_HOSTS": "localhost",
        "SSL_CERT_FILE": str(documents.ca_file),
    }
    try:
        with LiveServer(workers=1, env=env) as server:
            client_id = documents.serve(
                "/mcp-host.json", redirect_uris=[ONBOARD_CALLBACK], client_name="Visual Studio Code"
            )
            seen = onboard(server.mcp_url, "alice", "alice-password", "consent-metadata-document", client_id)
    finally:
        documents.close()
    assert seen["echo"] == "from a self-registered client"
    assert seen["whoami"]["client_id"] == client_id  # the document's URL is the client id
    assert seen["warning"]
    assert documents.requests == ["/mcp-host.json"]  # fetched once, then cached


ONBOARD_CALLBACK = "http://127.0.0.1:33419/callback"


async def _onboard(mcp_url: str, username: str, password: str, shot: str, metadata_url: str | None) -> dict:
    import httpx2
    from mcp.client import Client
    from mcp.client.auth import OAuthClientProvider
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata
    from playwright.async_api import async_playwright

    callback_url = ONBOARD_CALLBACK
    storage, seen = _Storage(), {}
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await chromium.new_context(viewport={"width": 900, "height": 900})
        await context.route(lambda url: url.startswith(callback_url), lambda route: route.fulfill(body="ok"))

        async def open_in_browser(url: str) -> None:
            page = await context.new_page()
            await page.goto(url)
            await page.get_by_label("Username").fill(username)
            await page.get_by_label("Password").fill(password)
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_role("heading", name=re.compile("^Authorize")).wait_for()
            seen["warning"] = await page.locator("#unverified-warning").count()
            SHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
            async with page.expect_request(lambda request: request.url.startswith(callback_url)) as callback:
                await page.get_by_role("button", name="Allow").click()
            request = await callback.value
            seen["callback"] = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}

        async def callback() -> AuthorizationCodeResult:
            params = seen["callback"]
            return AuthorizationCodeResult(
                code=params["code"], state=params.get("state"), iss=params.get("iss")
            )

        provider = OAuthClientProvider(
            server_url=mcp_url,
            client_metadata=OAuthClientMetadata(
                redirect_uris=[callback_url],
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="none",
                client_name="Claude Desktop",
            ),
            storage=storage,
            redirect_handler=open_in_browser,
            callback_handler=callback,
            client_metadata_url=metadata_url,
        )
        http = httpx2.AsyncClient(auth=provider, timeout=30)
        async with Client(streamable_http_client(mcp_url, http_client=http)) as client:
            echo = await client.call_tool("echo", {"message": "from a self-registered client"})
            whoami = await client.call_tool("whoami", {})
        await chromium.close()
    seen.update(
        echo=echo.content[0].text,
        whoami=whoami.structured_content,
        client=storage.client.model_dump() if storage.client else None,
    )
    return seen


class _Storage:
    """The SDK's token storage, empty at first: the client has never seen this server."""

    def __init__(self) -> None:
        self.tokens = self.client = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens) -> None:
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, client_info) -> None:
        self.client = client_info


def authorize_remembered(page, server) -> tuple[dict[str, str], str]:
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": WEB_CLIENT,
        "redirect_uri": WEB_REDIRECT,
        "scope": "mcp:read",
        "state": "again",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    from playwright.sync_api import Error as PlaywrightError

    # Routes do not see a redirect that a navigation follows, and nothing listens on the client's
    # redirect URI, so the navigation fails: the request the browser made is what counts.
    expected = page.expect_request(lambda request: request.url.startswith(WEB_REDIRECT))
    with expected as callback, contextlib.suppress(PlaywrightError):
        page.goto(f"{server.url}/oauth/authorize/?{urlencode(query)}")
    return {k: v[0] for k, v in parse_qs(urlsplit(callback.value.url).query).items()}, verifier

"""The official MCP SDK driving OAuth itself: 401 -> protected resource metadata -> AS metadata ->
authorization code + PKCE + ``resource`` (login and consent answered headlessly) -> token -> MCP,
then a scope step-up: a 403 ``insufficient_scope`` makes the client re-authorize with the union.

Two starting points: the pre-registered public demo client (``demo-web``), and nothing at all, when
the SDK registers itself first (RFC 7591 dynamic client registration).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import pytest

pytest.importorskip("mcp")
httpx2 = pytest.importorskip("httpx2")

from mcp.client import Client  # noqa: E402
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken  # noqa: E402

from .flows import WEB_CLIENT, WEB_REDIRECT, consent, login  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_server_errors")


LOOPBACK_REDIRECT = "http://127.0.0.1:33418/callback"


class MemoryStorage:
    """The SDK's token storage, in memory: holding the pre-registered client, or empty (DCR)."""

    def __init__(self, preregistered: bool = True) -> None:
        self.tokens: OAuthToken | None = None
        self.client = (
            OAuthClientInformationFull(
                client_id=WEB_CLIENT,
                redirect_uris=[WEB_REDIRECT],
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="none",
            )
            if preregistered
            else None
        )

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Browser:
    """A person at a browser: signs in as alice and ticks the offered scopes (or only ``keep``)."""

    def __init__(self, base_url: str, keeps: list[list[str] | None]) -> None:
        self.base_url, self.keeps = base_url, list(keeps)
        self.requested_scopes: list[str] = []
        self.resources: list[str] = []
        self.result: AuthorizationCodeResult | None = None

    def _authorize(self, url: str) -> AuthorizationCodeResult:
        query = parse_qs(urlsplit(url).query)
        self.requested_scopes.append(query.get("scope", [""])[0])
        self.resources.append(query.get("resource", [""])[0])
        with httpx.Client(base_url=self.base_url, follow_redirects=False, timeout=30) as http:
            first = http.get(url)
            assert first.status_code == 302, first.text[:500]
            if "/accounts/login/" in first.headers["location"]:
                assert login(http, "alice", "alice-password", url).status_code == 302
            decision = consent(http, url, keep=self.keeps.pop(0))
        params = decision.params
        return AuthorizationCodeResult(code=params["code"], state=params.get("state"), iss=params.get("iss"))

    async def redirect(self, url: str) -> None:
        self.result = await anyio.to_thread.run_sync(self._authorize, url)

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


def sdk_http(server_url: str, browser: Browser, storage: MemoryStorage) -> httpx2.AsyncClient:
    """An HTTP client that authorizes itself like an MCP host: the SDK's OAuth provider with a person at
    ``browser``; the pre-registered demo client when ``storage`` holds it, else dynamic registration."""
    redirect = WEB_REDIRECT if storage.client is not None else LOOPBACK_REDIRECT
    provider = OAuthClientProvider(
        server_url=server_url,
        client_metadata=OAuthClientMetadata(
            redirect_uris=[redirect],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
            client_name="e2e",
        ),
        storage=storage,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
    )
    return httpx2.AsyncClient(auth=provider, timeout=30)


async def _session(server_url: str, browser: Browser, storage: MemoryStorage, mode: str) -> dict:
    http = sdk_http(server_url, browser, storage)
    async with Client(streamable_http_client(server_url, http_client=http), mode=mode) as client:
        tools = await client.list_tools()
        echo = await client.call_tool("echo", {"message": "through OAuth"})
        prompt = await client.get_prompt("greeting", {})
        whoami = await client.call_tool("whoami", {})
        return {
            "tools": sorted(tool.name for tool in tools.tools),
            "echo": echo.content[0].text,
            "prompt": prompt.messages[0].content.text,
            "whoami": whoami.structured_content,
        }


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_sdk_authorizes_itself_and_steps_up(live_server, mode):
    # First consent grants only mcp:read; the tools/call 403 makes the SDK ask again with the union.
    browser = Browser(live_server.url, keeps=[["mcp:read"], None])
    storage = MemoryStorage()
    seen = anyio.run(_session, live_server.mcp_url, browser, storage, mode)
    assert seen["echo"] == "through OAuth"
    assert "alice" in seen["prompt"]
    assert seen["whoami"]["username"] == "alice" and seen["whoami"]["client_id"] == WEB_CLIENT
    assert len(browser.requested_scopes) == 2  # the first authorization, then the step-up
    assert set(browser.requested_scopes[0].split()) == {"mcp:read", "mcp:tools", "mcp:prompts"}
    assert set(browser.requested_scopes[1].split()) >= {"mcp:read", "mcp:tools"}
    assert browser.resources == [live_server.mcp_url, live_server.mcp_url]  # RFC 8707 on every request
    assert set(storage.tokens.scope.split()) >= {"mcp:read", "mcp:tools"}


def test_sdk_registers_itself_then_authorizes(live_server, http):
    """The whole path from nothing: dynamic client registration (RFC 7591), then the same flow."""
    metadata = http.get("/.well-known/oauth-authorization-server").json()
    assert metadata["registration_endpoint"] == live_server.url + "/oauth/register/"  # open by default
    browser = Browser(live_server.url, keeps=[None])
    storage = MemoryStorage(preregistered=False)
    seen = anyio.run(_session, live_server.mcp_url, browser, storage, "auto")
    assert storage.client is not None and storage.client.client_id != WEB_CLIENT
    assert seen["echo"] == "through OAuth"
    assert seen["whoami"]["client_id"] == storage.client.client_id

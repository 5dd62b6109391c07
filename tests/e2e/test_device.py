"""The device authorization grant (RFC 8628) on the live server: a CLI without a browser polls while a
person, elsewhere, enters its code, signs in on the real login page and allows on the real consent
page; its token then works on /mcp. Remembered consent, denial, pacing and discovery too."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest

from . import flows

pytestmark = pytest.mark.usefixtures("no_server_errors")
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class Poller:
    """A device polling the token endpoint in a thread of its own, as RFC 8628 §3.4-3.5 tells it to."""

    url: str
    client_id: str
    device_code: str
    interval: int
    answers: list[str] = field(default_factory=list)
    token: dict | None = None

    def run(self, deadline: float = 90) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as device:
            end = time.monotonic() + deadline
            while time.monotonic() < end:
                time.sleep(self.interval)
                data = {"grant_type": DEVICE, "device_code": self.device_code, "client_id": self.client_id}
                response = device.post(flows.TOKEN, data=data)
                if response.status_code == 200:
                    self.token = response.json()
                    return
                error = response.json()["error"]
                self.answers.append(error)
                if error == "slow_down":
                    self.interval += 5
                elif error != "authorization_pending":
                    return

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        return thread


@pytest.fixture(scope="module")
def device_client(live_server) -> str:
    args = [
        "--name",
        "Server CLI",
        "--grant",
        DEVICE,
        "--public",
        "--scopes",
        "mcp:read,mcp:tools,mcp:prompts",
    ]
    return json.loads(live_server.manage("create_client", *args, "--json").stdout)["client_id"]


def begin(http: httpx.Client, client_id: str, **data) -> dict:
    response = http.post("/oauth/device_authorization/", data={"client_id": client_id, **data})
    assert response.status_code == 200, response.text
    assert "no-store" in response.headers["cache-control"]
    return response.json()


def mcp_echo(live_server, token: str) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "tv"}},
    }
    return httpx.post(
        live_server.mcp_url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def test_metadata_advertises_the_device_authorization_endpoint(http, live_server):
    metadata = http.get("/.well-known/oauth-authorization-server").json()
    assert metadata["device_authorization_endpoint"] == live_server.url + "/oauth/device_authorization/"
    assert DEVICE in metadata["grant_types_supported"]


def test_a_cli_polls_while_a_person_approves_and_its_token_works_on_mcp(http, live_server, device_client):
    started = begin(http, device_client, scope="mcp:read mcp:tools", resource=live_server.mcp_url)
    assert started["verification_uri"] == live_server.url + "/oauth/device/"
    poller = Poller(live_server.url, device_client, started["device_code"], started["interval"])
    polling = poller.start()
    with httpx.Client(base_url=live_server.url, timeout=30) as person:
        time.sleep(started["interval"] + 1)  # the device has polled at least once, still pending
        entered = flows.enter_user_code(person, started)
        assert entered.status_code == 302, entered.text[:2000]
        shown = flows.decide_device(person, entered.headers["location"], remember=False)
        assert shown == ["mcp:read", "mcp:tools"]
        assert "Device connected" in person.get(entered.headers["location"] + "done/").text
    polling.join(60)
    assert poller.token is not None, poller.answers
    assert poller.answers and set(poller.answers) == {"authorization_pending"}, poller.answers
    assert set(poller.token["scope"].split()) == {"mcp:read", "mcp:tools"} and poller.token["refresh_token"]
    called = mcp_echo(live_server, poller.token["access_token"])
    assert called.status_code == 200, called.text
    assert called.json()["result"]["content"][0]["text"] == "tv"
    # The code is spent: the next poll gets expired_token.
    again = http.post(
        flows.TOKEN,
        data={"grant_type": DEVICE, "device_code": started["device_code"], "client_id": device_client},
    )
    assert again.json()["error"] == "expired_token"


def test_polling_too_fast_slows_the_device_down(http, device_client):
    started = begin(http, device_client)
    data = {"grant_type": DEVICE, "device_code": started["device_code"], "client_id": device_client}
    answers = [http.post(flows.TOKEN, data=data).json()["error"] for _ in range(3)]
    assert answers == ["authorization_pending", "slow_down", "slow_down"]


def test_a_remembered_consent_approves_the_next_device_at_once_and_a_denial_is_access_denied(
    http, live_server, device_client
):
    with httpx.Client(base_url=live_server.url, timeout=30) as person:
        first = begin(http, device_client, scope="mcp:read")
        entered = flows.enter_user_code(person, first, username="bob")
        flows.decide_device(person, entered.headers["location"], remember=True)
        second = begin(http, device_client, scope="mcp:read")
        entered = person.post(
            "/oauth/device/", data={**_csrf(person), "user_code": second["user_code"].lower()}
        )
        assert entered.status_code == 302 and entered.headers["location"].endswith("/done/"), entered.text[
            :2000
        ]
        third = begin(http, device_client, scope="mcp:read mcp:tools")
        entered = person.post("/oauth/device/", data={**_csrf(person), "user_code": third["user_code"]})
        flows.decide_device(person, entered.headers["location"], action="deny")
    for started, expected in ((second, None), (third, "access_denied")):
        data = {"grant_type": DEVICE, "device_code": started["device_code"], "client_id": device_client}
        answer = http.post(flows.TOKEN, data=data).json()
        assert answer.get("error") == expected, answer


def test_wrong_codes_get_one_answer_and_a_client_without_the_grant_gets_no_codes(http, live_server):
    with httpx.Client(base_url=live_server.url, timeout=30) as person:
        flows.login(person, "guest", "guest-password", "/oauth/device/")
        wrong = person.post("/oauth/device/", data={**_csrf(person), "user_code": "NOPE-NOPE"})
        assert wrong.status_code == 400 and "mistyped, expired or already used" in wrong.text
    refused = http.post("/oauth/device_authorization/", data={"client_id": flows.CLI_CLIENT})
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"


def _csrf(person: httpx.Client) -> dict[str, str]:
    page = person.get("/oauth/device/")
    assert page.status_code == 200, page.text[:2000]
    (form,) = [f for f in flows.forms(page.text) if f["id"] == "userCodeForm"]
    return flows.hidden_fields(form)

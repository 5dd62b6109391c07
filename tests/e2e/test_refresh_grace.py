"""The refresh grace window on the live server: parallel refreshes of one refresh token (an MCP host in
two tabs or processes) all get the same new pair; without a window only one wins and the family is
revoked; another client presenting the token revokes it whatever the window."""

from __future__ import annotations

import json

import httpx
import pytest

from . import flows

pytestmark = pytest.mark.usefixtures("no_server_errors")
PARALLEL = 12  # flows.refresh_race's copies


def introspect(http: httpx.Client, token: str) -> dict:
    return http.post("/oauth/introspect/", data={"token": token}, headers=flows.basic(*flows.SERVICE)).json()


def new_public_client(live_server, *extra: str) -> str:
    args = ["create_client", "--name", "racing CLI", "--grant", "password", "--public"]
    created = live_server.manage(*args, "--scopes", "mcp:read,mcp:tools", "--json", *extra)
    return json.loads(created.stdout)["client_id"]


def test_parallel_refreshes_of_one_token_all_get_the_same_pair(http, live_server):
    for _ in range(3):
        issued = flows.password_grant(http, "alice", scope="mcp:read mcp:tools").json()
        responses = flows.refresh_race(live_server.url, issued["refresh_token"], flows.CLI_CLIENT)
        assert [r.status_code for r in responses] == [200] * PARALLEL, [r.text for r in responses]
        pairs = {(r.json()["access_token"], r.json()["refresh_token"], r.json()["scope"]) for r in responses}
        assert len(pairs) == 1, "one rotation, one pair for every copy"
        ((access_token, refresh_token, scope),) = pairs
        assert refresh_token != issued["refresh_token"] and set(scope.split()) == {"mcp:read", "mcp:tools"}
        assert introspect(http, access_token)["active"] is True
        assert introspect(http, issued["access_token"]) == {"active": False}  # rotated away
        following = flows.refresh(http, refresh_token, client_id=flows.CLI_CLIENT)
        assert following.status_code == 200, following.text
        assert following.json()["refresh_token"] != refresh_token


def test_without_a_window_one_parallel_refresh_wins_and_the_family_is_revoked(http, live_server):
    client_id = new_public_client(live_server, "--refresh-grace", "0")
    issued = flows.password_grant(http, "alice", client_id=client_id).json()
    responses = flows.refresh_race(live_server.url, issued["refresh_token"], client_id)
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [400] * (PARALLEL - 1), [r.text for r in responses]
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    assert (
        flows.refresh(http, winner["refresh_token"], client_id=client_id).json()["error"] == "invalid_grant"
    )
    assert introspect(http, winner["access_token"]) == {"active": False}


def test_another_client_presenting_a_rotated_token_within_the_window_revokes_the_family(http, live_server):
    other = new_public_client(live_server)
    issued = flows.password_grant(http, "alice").json()
    successor = flows.refresh(http, issued["refresh_token"], client_id=flows.CLI_CLIENT).json()
    stolen = flows.refresh(http, issued["refresh_token"], client_id=other)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant", stolen.text
    assert flows.refresh(http, successor["refresh_token"], client_id=flows.CLI_CLIENT).status_code == 400
    assert introspect(http, successor["access_token"]) == {"active": False}


def test_a_repeat_asking_for_another_scope_within_the_window_revokes_the_family(http):
    issued = flows.password_grant(http, "alice", scope="mcp:read mcp:tools").json()
    successor = flows.refresh(http, issued["refresh_token"], client_id=flows.CLI_CLIENT).json()
    narrowed = flows.refresh(http, issued["refresh_token"], client_id=flows.CLI_CLIENT, scope="mcp:read")
    assert narrowed.status_code == 400 and narrowed.json()["error"] == "invalid_grant", narrowed.text
    assert introspect(http, successor["access_token"]) == {"active": False}

"""Tool policies and the audit trail of /mcp through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mcpserver.models import AuditRecord, ToolPolicy
from tests.mcpserver.conftest import McpClient

pytestmark = pytest.mark.django_db


def tool_names(mcp) -> list[str]:
    return [tool["name"] for tool in mcp.modern("tools/list").json()["result"]["tools"]]


def test_a_policy_switches_a_tool_off_on_the_next_request(api, tokens, wsgi_client):
    mcp = McpClient(wsgi_client, tokens["user"])
    assert "echo" in tool_names(mcp)
    response = api.post("tool-policies/", {"name": "echo", "enabled": False})
    assert response.status_code == 201, response.content
    assert response.json() == {**response.json(), "scopes": None, "roles": None, "enabled": False}
    assert "echo" not in tool_names(mcp)
    assert api.delete(f"tool-policies/{response.json()['id']}/").status_code == 204
    assert "echo" in tool_names(mcp)


def test_policy_scopes_and_roles_are_lists_or_null(api):
    response = api.post("tool-policies/", {"name": "whoami", "scopes": ["a:b", "c:d", "a:b"], "roles": []})
    assert response.status_code == 201
    assert (response.json()["scopes"], response.json()["roles"]) == (["a:b", "c:d"], [])
    assert (ToolPolicy.objects.get().scopes, ToolPolicy.objects.get().roles) == ("a:b c:d", "")
    patched = api.patch(f"tool-policies/{response.json()['id']}/", {"scopes": None})
    assert patched.json()["scopes"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"name": "no-such-tool"},
        {"name": "echo", "scopes": ["has space"]},
        {"name": "echo", "scopes": "mcp:read"},
        {"name": "echo", "roles": ["r" * 300, "s" * 300]},
    ],
)
def test_invalid_policies_are_400(api, body):
    assert api.post("tool-policies/", body).status_code == 400
    assert not ToolPolicy.objects.exists()


def test_one_policy_per_tool(api):
    assert api.post("tool-policies/", {"name": "echo"}).status_code == 201
    assert api.post("tool-policies/", {"name": "echo"}).status_code == 400


@pytest.fixture
def records():
    now = timezone.now()
    rows = [
        ("alice", "web", "tool", "echo", "ok", now - timedelta(hours=2)),
        ("alice", "cli", "tool", "get_time", "denied", now - timedelta(hours=1)),
        ("bob", "web", "prompt", "echo", "ok", now),
    ]
    return [
        AuditRecord.objects.create(
            username=user, subject=user, client_id=client, kind=kind, name=name, outcome=outcome,
            created=created, duration_ms=1.0,
        )  # fmt: skip
        for user, client, kind, name, outcome, created in rows
    ]


def names(api, query: str) -> list[tuple[str, str]]:
    response = api.get("audit-records/" + query)
    assert response.status_code == 200, response.content
    return [(r["username"], r["name"]) for r in response.json()["results"]]


def test_audit_records_filter_by_user_client_tool_outcome_and_time(api, records):
    assert names(api, "") == [("bob", "echo"), ("alice", "get_time"), ("alice", "echo")]  # newest first
    assert names(api, "?user=alice&client=web") == [("alice", "echo")]
    assert names(api, "?tool=echo") == [("alice", "echo")]  # the prompt named echo is no tool
    assert names(api, "?outcome=denied") == [("alice", "get_time")]
    since = (timezone.now() - timedelta(minutes=90)).isoformat()
    assert names(api, f"?since={since.replace('+', '%2B')}") == [("bob", "echo"), ("alice", "get_time")]
    assert api.get("audit-records/?since=yesterday").status_code == 400
    assert api.get("audit-records/?outcome=nope").status_code == 400


def test_audit_records_come_in_cursor_pages_and_are_read_only(api, records):
    first = api.get("audit-records/?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"]
    second = api.client.get(first["next"], HTTP_AUTHORIZATION=f"Bearer {api.token}").json()
    assert [r["name"] for r in second["results"]] == ["echo"]
    assert api.get("audit-records/?cursor=garbage").status_code == 404
    assert api.delete(f"audit-records/{records[0].pk}/").status_code == 405


@pytest.mark.parametrize(
    "moment", ["0038-10-23T18:27:11-16:30", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
)
def test_moments_any_database_takes_or_a_400(api, records, moment):
    """Offsets beyond what PostgreSQL takes, and moments out of range in UTC, never reach the database."""
    from urllib.parse import quote

    response = api.get(f"audit-records/?since={quote(moment)}")
    assert response.status_code in {200, 400}, response.content

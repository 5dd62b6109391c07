"""Limits against denial of service: batch size, per-call deadlines, cancellation on the JSON path,
concurrent requests per caller, and the demo long_task's bound."""

from __future__ import annotations

import json
import time

import pytest

from mcpserver import audit, limits
from mcpserver.registry import Progress, Registry, tool

from .test_transport import close_response

pytestmark = pytest.mark.django_db


def echo_call(request_id: int) -> dict:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": str(request_id)}},
    }


def outcomes(name: str) -> list[str]:
    from mcpserver.models import AuditRecord

    audit.flush()
    return [record.outcome for record in AuditRecord.objects.filter(name=name)]


def streamed_json(response) -> dict:
    """A streamed application/json body: JSON whitespace first, then one JSON value."""
    assert response["Content-Type"] == "application/json"
    body = b"".join(response.streaming_content)
    assert body.lstrip(b" \n") == body.strip()
    return json.loads(body)


@pytest.fixture
def swap_registry():
    """Serve the given definitions instead of the built-ins for one test."""
    from django.apps import apps

    app = apps.get_app_config("mcpserver")
    original = app.registry

    def swap(*functions):
        app.registry = Registry([function.__mcp__ for function in functions])

    yield swap
    app.registry = original


# --- batches ---


def test_the_default_batch_limit_is_small():
    from mcpserver import conf

    assert 1 < conf.DEFAULTS["MAX_BATCH_SIZE"] <= 50


def test_a_batch_over_the_limit_is_one_error_and_runs_nothing(mcp, mcp_settings, settings):
    settings.MCPSERVER = {**mcp_settings, "MAX_BATCH_SIZE": 3}
    response = mcp.raw([echo_call(i) for i in range(4)])  # no MCP-Protocol-Version: 2025-03-26
    assert response.status_code == 400
    error = response.json()
    assert error["id"] is None and error["error"]["code"] == -32600
    assert "3" in error["error"]["message"]
    assert outcomes("echo") == []
    within = mcp.raw([echo_call(i) for i in range(3)])
    assert [answer["result"]["content"][0]["text"] for answer in within.json()] == ["0", "1", "2"]


def test_a_huge_batch_of_echo_calls_is_refused_at_the_default_limit(mcp):
    response = mcp.raw([echo_call(i) for i in range(5000)])
    assert response.status_code == 400 and response.json()["error"]["code"] == -32600
    assert outcomes("echo") == []


# --- deadlines ---


def test_a_tool_sees_its_deadline(mcp, mcp_settings, settings, swap_registry):
    settings.MCPSERVER = {**mcp_settings, "TOOL_TIMEOUT_SECONDS": 7}
    seen = {}

    @tool("peek")
    def peek(ctx):
        seen["remaining"], seen["expired"] = ctx.remaining(), ctx.expired
        return "ok"

    swap_registry(peek)
    assert mcp.modern("tools/call", {"name": "peek"}).json()["result"]["content"][0]["text"] == "ok"
    assert 6 < seen["remaining"] <= 7 and seen["expired"] is False


def _forever(ctx):
    """A generator tool that ignores its deadline: the framework must stop it."""
    step = 0
    while True:
        step += 1
        time.sleep(0.01)
        yield Progress(step)


def test_a_generator_tool_past_its_deadline_is_stopped_on_the_json_path(
    mcp, mcp_settings, settings, swap_registry
):
    settings.MCPSERVER = {**mcp_settings, "TOOL_TIMEOUT_SECONDS": 0.2}
    swap_registry(tool("forever")(_forever))
    started = time.monotonic()
    response = mcp.legacy("tools/call", {"name": "forever"}, headers={"Accept": "application/json"})
    result = streamed_json(response)["result"]
    close_response(response)
    assert time.monotonic() - started < 2
    assert result["isError"] is True and "timed out" in result["content"][0]["text"]
    assert outcomes("forever") == ["timeout"]


def test_a_generator_tool_past_its_deadline_is_stopped_on_the_sse_path(
    mcp, mcp_settings, settings, swap_registry
):
    settings.MCPSERVER = {**mcp_settings, "TOOL_TIMEOUT_SECONDS": 0.2}
    swap_registry(tool("forever")(_forever))
    response = mcp.modern("tools/call", {"name": "forever"}, meta={"progressToken": "p"})
    assert response["Content-Type"] == "text/event-stream"
    frames = b"".join(response.streaming_content).decode().split("\n\n")
    close_response(response)
    last = json.loads([frame for frame in frames if frame][-1].split("data: ", 1)[1])
    assert last["result"]["isError"] is True and "timed out" in last["result"]["content"][0]["text"]
    assert outcomes("forever") == ["timeout"]


def test_a_plain_tool_that_returns_after_its_deadline_answers_a_timeout(
    mcp, mcp_settings, settings, swap_registry
):
    settings.MCPSERVER = {**mcp_settings, "TOOL_TIMEOUT_SECONDS": 0.05}

    @tool("slow")
    def slow(ctx):
        time.sleep(0.1)
        return "too late"

    swap_registry(slow)
    result = mcp.modern("tools/call", {"name": "slow"}).json()["result"]
    assert result["isError"] is True and "timed out" in result["content"][0]["text"]
    assert outcomes("slow") == ["timeout"]


def test_a_batch_shares_one_deadline(mcp, mcp_settings, settings, swap_registry):
    """Members are answered one after another: the batch as a whole gets TOOL_TIMEOUT_SECONDS."""
    settings.MCPSERVER = {**mcp_settings, "TOOL_TIMEOUT_SECONDS": 0.15}

    @tool("nap")
    def nap(ctx):
        time.sleep(0.06)
        return "rested"

    swap_registry(nap)
    call = {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "nap"}}
    started = time.monotonic()
    answers = mcp.raw([{**call, "id": i} for i in range(10)]).json()
    assert time.monotonic() - started < 0.5  # members after the deadline are not run
    errors = [answer["result"].get("isError", False) for answer in answers]
    assert errors[0] is False and errors[-1] is True
    assert outcomes("nap").count("timeout") >= 7


# --- the JSON path streams generator tools so that a client leaving cancels them ---


def test_a_generator_tool_on_the_json_path_streams_json(mcp):
    response = mcp.legacy(
        "tools/call",
        {"name": "long_task", "arguments": {"steps": 2, "interval_ms": 0}, "_meta": {"progressToken": 1}},
        headers={"Accept": "application/json"},
    )
    assert response.streaming
    assert streamed_json(response)["result"]["content"][0]["text"] == "Finished 2 steps."
    close_response(response)
    assert outcomes("long_task") == ["ok"]


def test_closing_a_json_response_cancels_the_tool(mcp):
    response = mcp.legacy(
        "tools/call",
        {"name": "long_task", "arguments": {"steps": 50, "interval_ms": 100}},
        headers={"Accept": "application/json"},
    )
    started = time.monotonic()
    next(iter(response.streaming_content))  # the first whitespace, after the first step
    close_response(response)
    assert time.monotonic() - started < 1
    assert outcomes("long_task") == ["cancelled"]


def test_plain_tools_keep_the_one_shot_json_response(mcp):
    response = mcp.legacy("tools/call", {"name": "echo", "arguments": {"message": "x"}})
    assert not response.streaming and response["Content-Length"]


# --- concurrent requests per caller ---


def test_the_limiter_admits_up_to_the_limit_per_key():
    first, second = limits.admit("a", 2), limits.admit("a", 2)
    assert limits.admit("a", 2) is None
    other = limits.admit("b", 2)
    assert other is not None
    first()
    first()  # releasing twice frees one slot only
    third = limits.admit("a", 2)
    assert third is not None and limits.admit("a", 2) is None
    for release in (second, third, other):
        release()
    assert limits.in_flight() == {}


def test_the_default_limit_leaves_a_thread_for_others():
    import dev
    from mcpserver import conf

    assert 1 <= conf.DEFAULTS["MAX_INFLIGHT_PER_CALLER"] < dev.DEFAULT_THREADS


def test_a_caller_over_its_in_flight_limit_gets_429_and_others_do_not(
    mcp, mcp_settings, settings, issue
):
    settings.MCPSERVER = {**mcp_settings, "MAX_INFLIGHT_PER_CALLER": 1}
    held = mcp.modern(
        "tools/call",
        {"name": "long_task", "arguments": {"steps": 3, "interval_ms": 0}},
        meta={"progressToken": "p"},
    )
    assert held.streaming  # in flight until the server closes it
    refused = mcp.modern("tools/call", {"name": "echo", "arguments": {"message": "x"}})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == -32029
    legacy = mcp.legacy("ping")
    assert legacy.status_code == 429 and legacy.json()["error"]["code"] == -32029
    other = mcp.modern("tools/call", {"name": "echo", "arguments": {"message": "y"}}, token=issue())
    assert other.status_code == 200
    close_response(held)
    assert mcp.modern("tools/call", {"name": "echo", "arguments": {"message": "z"}}).status_code == 200
    assert limits.in_flight() == {}


def test_a_refused_body_frees_its_slot(mcp, mcp_settings, settings):
    settings.MCPSERVER = {**mcp_settings, "MAX_INFLIGHT_PER_CALLER": 1}
    assert mcp.raw(b"{not json").status_code == 400
    assert mcp.legacy("ping").status_code == 200
    assert limits.in_flight() == {}


# --- the demo long_task ---


def test_long_task_refuses_a_total_over_its_bound(mcp):
    response = mcp.legacy(
        "tools/call",
        {"name": "long_task", "arguments": {"steps": 50, "interval_ms": 2000}},
        headers={"Accept": "application/json"},
    )
    result = streamed_json(response)["result"]
    close_response(response)
    assert result["isError"] is True and "10" in result["content"][0]["text"]


def test_long_task_sleeps_no_longer_than_its_deadline(mcp, mcp_settings, settings):
    settings.MCPSERVER = {**mcp_settings, "TOOL_TIMEOUT_SECONDS": 0.3}
    started = time.monotonic()
    response = mcp.legacy(
        "tools/call",
        {"name": "long_task", "arguments": {"steps": 1, "interval_ms": 2000}},
        headers={"Accept": "application/json"},
    )
    result = streamed_json(response)["result"]
    close_response(response)
    assert time.monotonic() - started < 1
    assert result["isError"] is True and "timed out" in result["content"][0]["text"]

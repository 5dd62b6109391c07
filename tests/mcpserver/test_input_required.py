"""Asking the client through ``/mcp`` (``asking_capabilities``): 2026-07-28 input-required rounds
(SEP-2322) with a sealed requestState, capability checks, the methods that may ask and those that may
not, the audit trail, and the same tools in the 2025 era."""

from __future__ import annotations

import json

import pytest
from django.apps import apps

from mcpserver import audit
from mcpserver.interaction.asking import Unreachable
from mcpserver.registry import ClientCannot, Question, Registry

from .conftest import CAPS_KEY, McpClient

pytestmark = pytest.mark.django_db

ALL = {"elicitation": {"form": {}, "url": {}}, "sampling": {}, "roots": {}}
ACCEPT_OK = {"action": "accept", "content": {"ok": True}}


@pytest.fixture
def asking():
    app = apps.get_app_config("mcpserver")
    original = app.registry
    registry = Registry()
    for module in ("mcpserver.tools", "tests.mcpserver.asking_capabilities"):
        registry.register_module(module)
    app.registry = registry
    yield registry
    app.registry = original


def send(mcp, method, params, caps=ALL, status=200):
    response = mcp.modern(method, params, meta={CAPS_KEY: caps})
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == status, body
    return json.loads(body)


def call(mcp, name, arguments=None, caps=ALL, status=200, **retry):
    return send(mcp, "tools/call", {"name": name, "arguments": arguments or {}, **retry}, caps, status)


def again(mcp, name, first, responses, arguments=None, caps=ALL, status=200):
    """The retry of ``first`` (an input_required result) with ``responses``."""
    state = {"requestState": first["requestState"]}
    return call(mcp, name, arguments, caps, status, inputResponses=responses, **state)


def records(name: str) -> list[tuple[str, str]]:
    from mcpserver.models import AuditRecord

    audit.flush()
    return [(r.outcome, r.detail) for r in AuditRecord.objects.filter(name=name).order_by("id")]


def test_an_unanswered_question_is_an_input_required_result(mcp, asking):
    first = call(mcp, "book_room", {"room": "12"})["result"]
    assert first["resultType"] == "input_required"
    assert first["inputRequests"] == {
        "confirm": {
            "method": "elicitation/create",
            "params": {
                "mode": "form",
                "message": "Book room 12?",
                "requestedSchema": {
                    "type": "object",
                    "properties": {"ok": {"type": "boolean"}},
                    "required": ["ok"],
                },
            },
        }
    }
    assert isinstance(first["requestState"], str) and "content" not in first
    done = again(mcp, "book_room", first, {"confirm": ACCEPT_OK}, {"room": "12"})["result"]
    assert done == {"content": [{"type": "text", "text": "Booked 12."}], "resultType": "complete"}
    assert records("book_room") == [
        ("input_required", "round 1 asks confirm (elicitation/create)"),
        ("ok", ""),
    ]


def test_a_declined_question_is_an_answer(mcp, asking):
    first = call(mcp, "book_room", {"room": "12"})["result"]
    done = again(mcp, "book_room", first, {"confirm": {"action": "decline"}}, {"room": "12"})["result"]
    assert done["content"][0]["text"] == "Not booked (decline)."


def test_rounds_follow_each_other_and_earlier_answers_come_from_the_state(mcp, asking):
    first = call(mcp, "register_guest")["result"]
    assert list(first["inputRequests"]) == ["elicit-1"]
    schema = first["inputRequests"]["elicit-1"]["params"]["requestedSchema"]
    assert schema["properties"]["name"] == {"type": "string"} and schema["required"] == [
        "name"
    ]  # from the dataclass
    guest = {"action": "accept", "content": {"name": "Ada", "nights": 3}}
    second = again(mcp, "register_guest", first, {"elicit-1": guest})["result"]
    assert list(second["inputRequests"]) == ["elicit-2"] and second["requestState"] != first["requestState"]
    # The last round sends only its own answer: the guest comes from the sealed state.
    done = again(
        mcp, "register_guest", second, {"elicit-2": {"action": "accept", "content": {"note": "late"}}}
    )
    assert done["result"]["content"][0]["text"] == "Ada for 3 nights; {'note': 'late'}; runs 3"


def test_several_questions_in_one_round(mcp, asking):
    first = call(mcp, "survey")["result"]
    requests = first["inputRequests"]
    assert list(requests) == ["elicit-1", "sample-2", "roots-3"]
    assert requests["sample-2"] == {
        "method": "sampling/createMessage",
        "params": {
            "messages": [{"role": "user", "content": {"type": "text", "text": "Say hello"}}],
            "maxTokens": 10,
            "temperature": 0.1,
        },
    }
    assert requests["roots-3"] == {"method": "roots/list", "params": {}}
    answers = {
        "elicit-1": {"action": "accept", "content": {"name": "Ada"}},
        "sample-2": {"role": "assistant", "content": {"type": "text", "text": "Hi"}, "model": "m"},
        "roots-3": {"roots": [{"uri": "file:///work", "name": "work"}]},
    }
    done = again(mcp, "survey", first, answers)["result"]
    assert done["content"][0]["text"] == "Ada / Hi / ['file:///work']"


def test_only_the_missing_answers_are_asked_again(mcp, asking):
    first = call(mcp, "survey")["result"]
    partial = {"sample-2": {"role": "assistant", "content": {"type": "text", "text": "Hi"}, "model": "m"}}
    second = again(mcp, "survey", first, partial)["result"]
    assert list(second["inputRequests"]) == ["elicit-1", "roots-3"]
    rest = {"elicit-1": {"action": "accept", "content": {"name": "Ada"}}, "roots-3": {"roots": []}}
    assert again(mcp, "survey", second, rest)["result"]["content"][0]["text"] == "Ada / Hi / []"


@pytest.mark.parametrize(
    "answer",
    [
        {"action": "accept", "content": {"ok": "yes"}},  # breaks the requested schema
        {"action": "accept"},  # a form accepted without content
        {"action": "maybe"},
        {"roots": []},  # the answer to another kind of question
    ],
)
def test_an_answer_that_does_not_fit_is_asked_again(mcp, asking, answer):
    first = call(mcp, "book_room", {"room": "1"})["result"]
    second = again(mcp, "book_room", first, {"confirm": answer}, {"room": "1"})["result"]
    assert second["resultType"] == "input_required" and list(second["inputRequests"]) == ["confirm"]


def test_a_missing_answer_is_asked_again_and_unknown_keys_are_ignored(mcp, asking):
    first = call(mcp, "book_room", {"room": "1"})["result"]
    second = again(mcp, "book_room", first, {"other": ACCEPT_OK}, {"room": "1"})["result"]
    assert list(second["inputRequests"]) == ["confirm"]
    done = again(mcp, "book_room", second, {"confirm": ACCEPT_OK, "other": {}}, {"room": "1"})["result"]
    assert done["content"][0]["text"] == "Booked 1."


def test_a_first_call_may_bring_its_answers_without_a_state(mcp, asking):
    done = call(mcp, "book_room", {"room": "3"}, inputResponses={"confirm": ACCEPT_OK})["result"]
    assert done["content"][0]["text"] == "Booked 3."


def test_an_earlier_answer_counts_only_for_the_same_question(mcp, asking):
    first = call(mcp, "changing_question")["result"]
    second = again(mcp, "changing_question", first, {"first": ACCEPT_OK})["result"]
    assert list(second["inputRequests"]) == ["second"]
    # The retry's run asks a different "second" question: the answer given is for the old one.
    third = again(mcp, "changing_question", second, {"second": ACCEPT_OK})["result"]
    assert third["resultType"] == "input_required" and list(third["inputRequests"]) == ["second"]


def test_a_tools_except_exception_does_not_swallow_the_round(mcp, asking):
    assert call(mcp, "swallow_everything")["result"]["resultType"] == "input_required"


def test_a_generator_tool_asks_after_its_progress(mcp, asking):
    first = call(mcp, "progress_then_ask")["result"]
    assert first["resultType"] == "input_required"
    done = again(mcp, "progress_then_ask", first, {"elicit-1": ACCEPT_OK})["result"]
    assert done["content"][0]["text"] == "went on: True"


def test_state_the_tool_cannot_seal_is_a_tool_error(mcp, asking):
    result = call(mcp, "keeps_a_set")["result"]
    assert result["isError"] is True and result["resultType"] == "complete"


# --- the state belongs to one caller, one request, for a while ---


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"requestState": "1.AAAA"}, "tampered"),
        ({"requestState": None}, "tampered"),
        ({"arguments": {"room": "13"}}, "another request"),
        ({"name": "sign_in"}, "another request"),
    ],
)
def test_a_state_for_another_request_or_a_tampered_one_is_refused(mcp, asking, change, reason):
    first = call(mcp, "book_room", {"room": "12"})["result"]
    params = {"name": "book_room", "arguments": {"room": "12"}, "inputResponses": {"confirm": ACCEPT_OK}}
    params.update({"requestState": first["requestState"], **change})
    answer = send(mcp, "tools/call", params, status=400)
    assert answer["error"]["code"] == -32602 and "requestState" in answer["error"]["message"]
    assert records(params["name"])[-1] == ("invalid", f"requestState refused: {reason}")


def test_a_state_is_refused_to_another_user(mcp, asking, issue, client):
    first = call(mcp, "book_room", {"room": "12"})["result"]
    other = McpClient(client, issue(username="mallory"))
    answer = again(other, "book_room", first, {"confirm": ACCEPT_OK}, {"room": "12"}, status=400)
    assert answer["error"]["code"] == -32602
    assert records("book_room")[-1] == ("invalid", "requestState refused: another caller")


def test_an_expired_state_is_refused(mcp, asking, settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "INPUT_STATE_SECONDS": -1}
    first = call(mcp, "book_room", {"room": "12"})["result"]
    answer = again(mcp, "book_room", first, {"confirm": ACCEPT_OK}, {"room": "12"}, status=400)
    assert answer["error"]["code"] == -32602 and "expired" in answer["error"]["message"]


def test_a_state_sealed_before_a_key_rotation_still_verifies(mcp, asking, settings):
    old = settings.SECRET_KEY
    first = call(mcp, "book_room", {"room": "12"})["result"]
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "rotated-" + "k" * 50, [old]
    done = again(mcp, "book_room", first, {"confirm": ACCEPT_OK}, {"room": "12"})["result"]
    assert done["content"][0]["text"] == "Booked 12."


@pytest.mark.parametrize(
    ("responses", "what"),
    [(None, "inputResponses must be an object"), ([], "inputResponses"), ({"confirm": 12345}, "confirm")],
)
def test_malformed_input_responses_are_invalid_params(mcp, asking, responses, what):
    answer = call(mcp, "book_room", {"room": "1"}, status=400, inputResponses=responses)
    assert answer["error"]["code"] == -32602 and what in answer["error"]["message"]
    assert records("book_room")[-1][0] == "invalid"


# --- capabilities the client declared ---


def test_a_question_the_client_did_not_declare_is_never_sent(mcp, asking):
    result = call(mcp, "name_somehow", caps={"sampling": {}})["result"]
    assert [r["method"] for r in result["inputRequests"].values()] == ["sampling/createMessage"]


@pytest.mark.parametrize(
    ("caps", "asked"),
    [
        ({"elicitation": {}}, True),
        ({"elicitation": {"form": {}}}, True),
        ({"elicitation": {"url": {}}}, False),
    ],
)
def test_form_elicitation_needs_the_form_mode(mcp, asking, caps, asked):
    result = call(mcp, "book_room", {"room": "1"}, caps=caps)["result"]
    assert (result["resultType"] == "input_required") is asked


def test_url_elicitation_needs_the_url_mode(mcp, asking):
    refused = call(mcp, "sign_in", caps={"elicitation": {}})["result"]
    assert refused["isError"] is True and "elicitation.url" in refused["content"][0]["text"]
    first = call(mcp, "sign_in", caps={"elicitation": {"url": {}}})["result"]
    request = first["inputRequests"]["elicit-1"]
    assert request["params"] == {
        "mode": "url",
        "message": "Sign in to the calendar",
        "url": "https://calendar.example/connect",
    }
    assert (
        again(mcp, "sign_in", first, {"elicit-1": {"action": "accept"}}, caps=ALL)["result"]["content"][0][
            "text"
        ]
        == "accept"
    )


def test_an_uncaught_refusal_is_a_tool_error(mcp, asking):
    result = call(mcp, "careless", caps={"sampling": {}})["result"]
    assert result["isError"] is True and "roots" in result["content"][0]["text"]
    assert records("careless") == [("error", "The client did not declare the roots capability")]


def test_an_uncaught_refusal_in_a_resource_is_the_missing_capability_error(mcp, asking):
    answer = send(mcp, "resources/read", {"uri": "asking://roots"}, caps={}, status=400)
    assert answer["error"]["code"] == -32021
    assert answer["error"]["data"] == {"requiredCapabilities": {"roots": {}}}


# --- the methods that may ask, and those that may not ---


def test_a_prompt_asks(mcp, asking):
    first = send(mcp, "prompts/get", {"name": "briefing", "arguments": {"topic": "tea"}})["result"]
    assert first["resultType"] == "input_required"
    retry = {"name": "briefing", "arguments": {"topic": "tea"}, "requestState": first["requestState"]}
    retry["inputResponses"] = {"elicit-1": {"action": "accept", "content": {"who": "the board"}}}
    done = send(mcp, "prompts/get", retry)["result"]
    assert (
        done["messages"][0]["content"]["text"] == "Brief the board on tea."
        and done["resultType"] == "complete"
    )


def test_a_resource_asks_and_its_input_required_result_has_no_caching_hints(mcp, asking):
    first = send(mcp, "resources/read", {"uri": "asking://diary"})["result"]
    assert first["resultType"] == "input_required"
    assert "ttlMs" not in first and "cacheScope" not in first
    retry = {
        "uri": "asking://diary",
        "requestState": first["requestState"],
        "inputResponses": {"elicit-1": ACCEPT_OK},
    }
    done = send(mcp, "resources/read", retry)["result"]
    assert done["contents"][0]["text"] == "Dear diary..." and done["cacheScope"] == "private"


@pytest.mark.parametrize("method", ["tools/list", "prompts/list", "resources/list", "server/discover"])
def test_other_methods_never_answer_input_required(mcp, asking, method):
    assert send(mcp, method, {})["result"]["resultType"] == "complete"


def test_a_request_that_cannot_ask_refuses_every_question():
    with pytest.raises(ClientCannot):
        Unreachable().ask(None, [Question.roots()])


# --- the 2025 era: the same tools, asking through the call's stream ---


def test_a_legacy_tool_that_does_without_still_answers(mcp, asking):
    result = mcp.legacy("tools/call", {"name": "name_somehow", "arguments": {}}).json()["result"]
    assert result["isError"] is True  # this client declared neither elicitation nor sampling
    assert "did not declare the sampling capability" in result["content"][0]["text"]


def test_a_legacy_tool_that_cannot_ask_is_a_tool_error(mcp, asking):
    result = mcp.legacy("tools/call", {"name": "book_room", "arguments": {"room": "1"}}).json()["result"]
    assert result["isError"] is True and "elicitation/create" in result["content"][0]["text"]
    assert "resultType" not in result

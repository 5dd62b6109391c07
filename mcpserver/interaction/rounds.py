"""The 2026-07-28 input-required rounds (SEP-2322) of one ``tools/call``, ``prompts/get`` or
``resources/read``: no server-to-client request, no server memory between rounds.

The function runs from the start in every round. Each question it asks has a key: the author's, or
``<kind>-<n>`` from its place among the call's questions (so a function must ask the same questions in
the same order until it has its answers). An answer comes from the sealed ``requestState`` (the
answers of earlier rounds, each kept with a digest of the very question it answered) or from the
request's ``inputResponses`` (for a question the last round asked, only if it is the very same). A
question without one, or whose answer does not fit it, stops the function (``InputRequired``): the
method then answers ``resultType: "input_required"`` with every unanswered question of that
``ctx.ask`` and a new sealed state holding the answers so far, the digests of the questions asked and
what the function keeps in ``ctx.state``. A question needing a capability the client did not declare is never
sent: the function gets ``ClientCannot``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import audit
from ..exceptions import InvalidParams
from . import state
from .questions import ClientCannot, Question

_SHORT = {"elicitation/create": "elicit", "sampling/createMessage": "sample", "roots/list": "roots"}


class InputRequired(BaseException):
    """Stops a function that asked what has no answer yet; ``result`` is the method's answer. It is a
    ``BaseException`` so that a function's ``except Exception`` does not swallow it."""

    def __init__(self, result: dict[str, Any], detail: str) -> None:
        super().__init__(detail)
        self.result, self.detail = result, detail


class StartTask(BaseException):  # noqa: N818  (a signal, like InputRequired)
    """Raised by ``ctx.background()`` in the request of a task tool that asks first (``ask_first=True``)
    once its questions are answered: the call then answers a task handle, and the task runs the function
    again with ``answers`` (key -> [question digest, answer]) and ``state`` (``ctx.state``)."""

    def __init__(self, answers: dict[str, list[Any]], state: dict[str, Any]) -> None:
        super().__init__("the call goes on as a task")
        self.answers, self.state = answers, state


@dataclass(frozen=True)
class Incomplete:
    """A method's input-required answer: the transport writes it with ``resultType: "input_required"``."""

    result: dict[str, Any]


class Rounds:
    """What one round of a request may ask, and the answers it has."""

    def __init__(
        self,
        bind: Callable[[], state.Binding],
        capabilities: dict[str, Any],
        responses: dict[str, Any],
        sealed: dict[str, Any] | None = None,
    ) -> None:
        sealed = sealed or {}
        self.bind, self.capabilities, self.responses = bind, capabilities, responses
        self.round: int = sealed.get("r", 1)
        self.earlier: dict[str, list[Any]] = sealed.get("a", {})  # key -> [fingerprint, answer]
        self.pending: dict[str, str] = sealed.get("p", {})  # key -> fingerprint: asked in the last round
        self.state: dict[str, Any] = sealed.get("s", {})  # ctx.state
        self.taken: dict[str, list[Any]] = {}
        self.keys: set[str] = set()
        self.escalate = False  # set for a task tool that asks first: ctx.background() starts the task

    def background(self) -> None:
        """``ctx.background()``: start the task here when this call may (``escalate``), else go on."""
        if self.escalate:
            raise StartTask({**self.earlier, **self.taken}, self.state)

    def ask(self, ctx: Any, questions: Sequence[Question]) -> list[Any]:
        """The answers to ``questions``, or ``InputRequired`` asking for those that have none."""
        refused = next((q for q in questions if not q.allowed_by(self.capabilities)), None)
        if refused is not None:
            raise ClientCannot(refused.capability)
        answers, missing, fingerprints = [], {}, {}
        for question in questions:
            key = self._key(question)
            answer = self._answer(key, question)
            if answer is None:
                missing[key], fingerprints[key] = question.request(), question.fingerprint()
            answers.append(answer)
        if missing:
            raise InputRequired(self._incomplete(missing, fingerprints), self._detail(missing))
        return answers

    def _key(self, question: Question) -> str:
        key = question.key or f"{_SHORT[question.method]}-{len(self.keys) + 1}"
        if key in self.keys:
            raise ValueError(f"The question key {key!r} is used twice in one call")
        self.keys.add(key)
        return key

    def _answer(self, key: str, question: Question) -> Any:
        fingerprint = question.fingerprint()
        earlier = self.earlier.get(key)
        if earlier is not None and earlier[0] == fingerprint:
            raw = earlier[1]
        elif self.pending.get(key, fingerprint) == fingerprint:  # an answer to what was asked, if known
            raw = self.responses.get(key)
        else:
            raw = None
        answer = question.read(raw)
        if answer is not None:
            self.taken[key] = [fingerprint, raw]
        return answer

    def _incomplete(self, missing: dict[str, Any], fingerprints: dict[str, str]) -> dict[str, Any]:
        answers = {**self.earlier, **self.taken}
        content = {"r": self.round + 1, "a": answers, "p": fingerprints, "s": self.state}
        return {"inputRequests": missing, "requestState": state.seal(self.bind(), content)}

    def _detail(self, missing: dict[str, Any]) -> str:
        asked = ", ".join(f"{key} ({request['method']})" for key, request in missing.items())
        return f"round {self.round} asks {asked}"


def resume(ctx: Any, method: str, target: str, arguments: Any) -> Rounds:
    """This request's round: its ``inputResponses`` and its opened ``requestState`` (``InvalidParams``
    for malformed responses, ``state.StateRefused`` for a state that is not this request's)."""
    params = ctx.params
    responses = params.get("inputResponses", {})
    if not isinstance(responses, dict):
        raise InvalidParams("inputResponses must be an object")
    for key, response in responses.items():
        if not isinstance(response, dict):
            raise InvalidParams(f"inputResponses[{key!r}] must be an object (the client's result)")
    bind = functools.partial(_binding, ctx.token, method, target, arguments)
    sealed = state.unseal(params["requestState"], bind()) if "requestState" in params else None
    return Rounds(bind, ctx.client_capabilities or {}, responses, sealed)


def _binding(token: Any, method: str, target: str, arguments: Any) -> state.Binding:
    """Made when a state is sealed or opened: a call that asks nothing never digests its arguments."""
    return state.Binding(token.subject, token.client_id, method, target, audit.digest(arguments or {})[1])

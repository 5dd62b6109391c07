"""The author API for asking the user or the model during a call, and what each request may ask.

``Asking`` gives the request context ``ctx.elicit``, ``ctx.elicit_url``, ``ctx.sample``,
``ctx.list_roots``, ``ctx.ask`` (several questions in one round) and ``ctx.state``. What happens
depends on the request's ``interaction``, which ``begin`` chooses:

- 2026-07-28 (``rounds.Rounds``): an unanswered question stops the function, and the call answers
  ``input_required``; the retry runs it again with the answers.
- 2025 (``Direct``): each question is a server-to-client request on the call's stream
  (``transport.clientrequests.ask``), waited for within the call's deadline.
- Any other request (``Unreachable``): nothing can be asked; every question raises ``ClientCannot``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from .. import audit
from ..definitions import ClientCapabilityMissing, ClientUnreachable
from ..exceptions import InvalidParams, MissingClientCapability
from . import rounds, state
from .questions import ClientCannot, Elicited, Question


class Unreachable:
    """A request that cannot ask anything (only tools/call, prompts/get and resources/read may)."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}

    def ask(self, ctx: Any, asked: Sequence[Question]) -> list[Any]:
        raise ClientCannot(asked[0].capability, "This request cannot ask the client anything")

    def background(self) -> None:
        """Nothing to hand over: the function goes on where it is."""


class Direct:
    """The 2025 era: each question is a request to the client, answered while the call waits."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}

    def ask(self, ctx: Any, asked: Sequence[Question]) -> list[Any]:
        from ..transport import clientrequests  # the transport imports the methods, which import this

        answers = []
        for question in asked:
            params = question.params
            if params.get("mode") == "url":  # 2025-11-25 URL mode names each elicitation
                params = {**params, "elicitationId": uuid.uuid4().hex}
            try:
                reply = clientrequests.ask(ctx, question.method, params, ctx.remaining())
            except (ClientCapabilityMissing, ClientUnreachable) as exc:  # as in the other era
                raise ClientCannot(question.capability, str(exc)) from exc
            answer = question.read(reply)
            if answer is None:
                raise ClientCannot(
                    question.capability, f"The client's answer to {question.method} does not fit"
                )
            answers.append(answer)
        return answers

    def background(self) -> None:
        """The 2025 era has no tasks: the function goes on in this request."""


def begin(ctx: Any, trail: audit.Trail, method: str, target: str, arguments: Any) -> None:
    """Let ``ctx`` ask the client during this call; a 2026-07-28 retry's malformed ``inputResponses``
    or refused ``requestState`` is ``InvalidParams``, audited as invalid."""
    if ctx.era != "modern":
        ctx.interaction = Direct()
        return
    try:
        ctx.interaction = rounds.resume(ctx, method, target, arguments)
    except InvalidParams as exc:
        trail.done("invalid", exc.message)
        raise
    except state.StateRefused as exc:
        trail.done("invalid", f"requestState refused: {exc.reason}")
        raise InvalidParams(str(exc)) from None


def refusal(exc: ClientCannot) -> MissingClientCapability:
    """The JSON-RPC error of a question a prompt or resource could not ask and did not do without."""
    family, _, mode = exc.capability.partition(".")
    needed = {family: {mode: {}} if mode else {}}
    return MissingClientCapability(str(exc), data={"requiredCapabilities": needed})


class Asking:
    """The questions a capability function may ask through its ``ctx``."""

    interaction: Any

    @property
    def state(self) -> dict[str, Any]:
        """What the function keeps between 2026-07-28 rounds (JSON values; sealed into requestState)."""
        return self.interaction.state

    def ask(self, *asked: Question) -> list[Any]:
        """The answers to several questions (``Question.elicitation``, ``.sampling``, ...), in order,
        asked together in one round."""
        return self.interaction.ask(self, asked)

    def elicit(
        self, message: str, schema: dict[str, Any] | type, *, mode: str = "form", key: str | None = None
    ) -> Elicited:
        """Ask the user to fill a form: ``schema`` is a flat JSON Schema object or a type."""
        if mode != "form":
            raise ValueError("ctx.elicit asks with a form; use ctx.elicit_url for URL mode")
        return self.ask(Question.elicitation(message, schema, key=key))[0]

    def elicit_url(self, message: str, url: str, *, key: str | None = None) -> Elicited:
        """Send the user to ``url``; the answer says whether they accepted to go."""
        return self.ask(Question.elicitation_url(message, url, key=key))[0]

    def sample(
        self,
        messages: str | Sequence[str | dict[str, Any]],
        *,
        max_tokens: int,
        system_prompt: str | None = None,
        key: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """A completion from the client's model: its ``CreateMessageResult`` (``role``, ``content``,
        ``model``)."""
        question = Question.sampling(
            messages, max_tokens=max_tokens, system_prompt=system_prompt, key=key, **params
        )
        return self.ask(question)[0]

    def list_roots(self, *, key: str | None = None) -> list[dict[str, Any]]:
        """The client's roots (``uri``, optional ``name``)."""
        return self.ask(Question.roots(key=key))[0]

    def background(self) -> None:
        """Go on as a task: in the request of a task tool declared with ``ask_first=True`` (and a client
        that takes tasks) this ends the call with a task handle, and the task runs the function again
        from the start with the answers gathered so far; anywhere else it does nothing."""
        self.interaction.background()

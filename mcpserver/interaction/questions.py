"""What a capability function may ask the client, and how the client's answer is read.

A ``Question`` (made by ``Question.elicitation``, ``.elicitation_url``, ``.sampling`` or ``.roots``) is
one ``elicitation/create`` (form or URL mode), ``sampling/createMessage`` or ``roots/list`` request,
with the client capability it needs. ``read`` turns an answer into what the
author API returns (``Elicited``; the ``CreateMessageResult``; the list of roots), or None when the
answer does not answer this question (another shape, or form content that breaks the requested
schema): such a question is asked again.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..schemas import ArgumentValidator, SchemaError

ACTIONS = ("accept", "decline", "cancel")


@dataclass(frozen=True)
class Elicited:
    """The user's answer to ``ctx.elicit``: ``action`` (accept, decline or cancel) and, when the user
    accepted a form, its ``content`` (which fits the requested schema)."""

    action: str
    content: dict[str, Any] | None = None

    @property
    def accepted(self) -> bool:
        return self.action == "accept"


class ClientCannot(Exception):  # noqa: N818  (named for what it says, like StopIteration)
    """The client cannot be asked this: it did not declare ``capability`` (``elicitation``,
    ``elicitation.url``, ``sampling``, ``roots``), or the request has no way to reach it. A function may
    catch it and do without; uncaught, a tool answers a tool error and a prompt or resource the
    JSON-RPC error -32021 naming the capability."""

    def __init__(self, capability: str, message: str | None = None) -> None:
        super().__init__(message or f"The client did not declare the {capability} capability")
        self.capability = capability


@dataclass(frozen=True)
class Question:
    """One request to the client; ``key`` (the ``inputRequests`` key) is chosen by the author or made
    from the question's place in the call."""

    method: str
    params: dict[str, Any]
    capability: str
    key: str | None = None
    reader: Callable[[Question, Any], Any] = field(default=lambda question, answer: None, compare=False)

    def request(self) -> dict[str, Any]:
        return {"method": self.method, "params": self.params}

    def fingerprint(self) -> str:
        """A digest of the request: an earlier answer counts only for the very same question."""
        canonical = json.dumps(self.request(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def allowed_by(self, capabilities: dict[str, Any]) -> bool:
        """Whether ``capabilities`` (a client's declared ones) include what this question needs."""
        family, _, mode = self.capability.partition(".")
        declared = capabilities.get(family)
        if not isinstance(declared, dict):
            return False
        if family != "elicitation":
            return True
        # An empty elicitation capability means form mode only (2025-11-25).
        return mode in declared if mode else not declared or "form" in declared

    def read(self, answer: Any) -> Any:
        return self.reader(self, answer) if isinstance(answer, dict) else None

    @classmethod
    def elicitation(cls, message: str, schema: dict[str, Any] | type, *, key: str | None = None) -> Question:
        """A form: ``schema`` is a flat JSON Schema object, or a type (a dataclass, TypedDict or pydantic
        model) whose schema pydantic makes."""
        params = {"mode": "form", "message": message, "requestedSchema": _schema_of(schema)}
        return cls("elicitation/create", params, "elicitation", key, _read_elicited)

    @classmethod
    def elicitation_url(cls, message: str, url: str, *, key: str | None = None) -> Question:
        """Send the user to ``url`` (sign-ins, payments: what must not pass through the client)."""
        params = {"mode": "url", "message": message, "url": url}
        return cls("elicitation/create", params, "elicitation.url", key, _read_elicited)

    @classmethod
    def sampling(
        cls,
        messages: str | Sequence[str | dict[str, Any]],
        *,
        max_tokens: int,
        system_prompt: str | None = None,
        key: str | None = None,
        **params: Any,
    ) -> Question:
        """A completion from the client's model: ``messages`` are sampling messages (a string is one user
        text message); ``params`` are more ``CreateMessageRequest`` parameters (``temperature``, ...)."""
        listed = [messages] if isinstance(messages, str) else list(messages)
        body: dict[str, Any] = {"messages": [_message(item) for item in listed], "maxTokens": max_tokens}
        if system_prompt is not None:
            body["systemPrompt"] = system_prompt
        return cls("sampling/createMessage", {**body, **params}, "sampling", key, _read_sampled)

    @classmethod
    def roots(cls, *, key: str | None = None) -> Question:
        """The client's roots (``roots/list``)."""
        return cls("roots/list", {}, "roots", key, _read_roots)


def _schema_of(schema: dict[str, Any] | type) -> dict[str, Any]:
    if isinstance(schema, dict):
        return schema
    return _type_schema(schema)


@functools.lru_cache(maxsize=256)
def _type_schema(kind: type) -> dict[str, Any]:
    from pydantic import TypeAdapter

    from ..typeschemas import readable, schema_of

    return schema_of(TypeAdapter(readable(kind)))


@functools.lru_cache(maxsize=256)
def _validator(schema: str) -> ArgumentValidator:
    return ArgumentValidator(json.loads(schema))


def _read_elicited(question: Question, answer: dict[str, Any]) -> Elicited | None:
    action, content = answer.get("action"), answer.get("content")
    if action not in ACTIONS or content is not None and not isinstance(content, dict):
        return None
    if action != "accept":
        return Elicited(action)
    schema = question.params.get("requestedSchema")
    if schema is None:  # URL mode: the interaction happened elsewhere
        return Elicited(action, content)
    if content is None:
        return None
    try:
        _validator(json.dumps(schema, sort_keys=True)).validate(content)
    except SchemaError:
        return None
    return Elicited(action, content)


def _read_sampled(question: Question, answer: dict[str, Any]) -> dict[str, Any] | None:
    fits = answer.get("role") in ("user", "assistant") and isinstance(answer.get("model"), str)
    return answer if fits and isinstance(answer.get("content"), dict | list) else None


def _read_roots(question: Question, answer: dict[str, Any]) -> list[dict[str, Any]] | None:
    roots = answer.get("roots")
    if not isinstance(roots, list) or not all(
        isinstance(r, dict) and isinstance(r.get("uri"), str) for r in roots
    ):
        return None
    return roots


def _message(item: str | dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": {"type": "text", "text": item}} if isinstance(item, str) else item

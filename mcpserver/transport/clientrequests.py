"""Requests from the server to the client during a call (the 2025 handshake era): ``ask`` sends one on
the call's SSE stream and waits for the answer, which the client POSTs to ``/mcp`` and which may reach
any worker of any instance; ``deliver`` hands such an answer to the call waiting for it.

An asked request gets an id no other request of any instance has (random), and a slot named after the
session and that id. While the call waits, the slot's record in the shared state says who may answer
(the session's subject and client), and the call receives on the slot's channel (``sharedstate``
messages): ``deliver``, on whichever process the answer reached, checks the record and sends the
answer there. An answer nobody waits for (late, or to no request) is accepted and dropped.

A call waits at most its timeout and never past its deadline: then the client is sent
``notifications/cancelled`` for the request and the tool meets ``ClientTimeout``. When the client goes
away (the server closes the call's stream), ``Outbox.close`` wakes the waiting call, which meets
``CallCancelled``. A request needs the client capability it belongs to (``CAPABILITIES``), as declared at
``initialize``, and a stream to travel on (``Outbox``: see ``interactive``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import queue
import secrets
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sharedstate

from .. import jsonrpc
from ..auth import AccessToken
from ..definitions import (
    CallCancelled,
    ClientCapabilityMissing,
    ClientRefused,
    ClientTimeout,
    ClientUnreachable,
)
from ..exceptions import InvalidRequest, SessionNotFound

if TYPE_CHECKING:
    from ..methods.context import Context

logger = logging.getLogger(__name__)

CAPABILITIES = {
    "elicitation/create": "elicitation",
    "sampling/createMessage": "sampling",
    "roots/list": "roots",
}
ID_PREFIX = "mcp-srv-"
PENDING = "client-request:"
CHANNEL = "client-answer:"
ANSWER_TTL = 60
# A waiting call also looks at least this often whether the client left (should the wake-up be lost).
WAIT_SLICE_SECONDS = 2.0
_CANCELLED = {"cancelled": True}


class Outbox:
    """What a call running in a thread of its own sends to the client, in order (``send``, then its end
    through ``put``), read by the request's thread (``next``); ``close`` says the client left."""

    MESSAGE, DONE, RAISED = "message", "done", "raised"

    def __init__(self) -> None:
        self._items: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._waiting: set[str] = set()

    @property
    def closed(self) -> bool:
        return self._closed

    def send(self, message: dict[str, Any]) -> None:
        self._items.put((self.MESSAGE, message))

    def put(self, kind: str, value: Any) -> None:
        self._items.put((kind, value))

    def next(self, timeout: float | None = None) -> tuple[str, Any] | None:
        """The next item, or None when none came within ``timeout`` seconds."""
        try:
            return self._items.get(timeout=timeout)
        except queue.Empty:
            return None

    @contextlib.contextmanager
    def waiting_on(self, channel: str) -> Iterator[None]:
        with self._lock:
            self._waiting.add(channel)
        try:
            yield
        finally:
            with self._lock:
                self._waiting.discard(channel)

    def close(self) -> None:
        """The client left: wake every ``ask`` waiting for an answer (it raises ``CallCancelled``)."""
        with self._lock:
            self._closed = True
            waiting = list(self._waiting)
        for channel in waiting:
            try:
                sharedstate.send(channel, _CANCELLED, ANSWER_TTL)
            except Exception:  # the call notices within WAIT_SLICE_SECONDS all the same
                logger.warning("Could not wake a call waiting for its client", exc_info=True)


def _slot(session_id: str, request_id: str) -> str:
    return hashlib.sha256(f"{session_id}\n{request_id}".encode()).hexdigest()[:40]


def _caller(token: AccessToken) -> dict[str, Any]:
    return {"subject": token.subject, "client_id": token.client_id}


def _require_capability(ctx: Context, method: str, params: dict[str, Any]) -> None:
    name = CAPABILITIES.get(method)
    if name is None:
        return
    declared = ctx.client_capabilities.get(name) if isinstance(ctx.client_capabilities, dict) else None
    if not isinstance(declared, dict):
        raise ClientCapabilityMissing(
            f"The client did not declare the {name} capability: it cannot be asked {method}"
        )
    if name == "elicitation":
        mode = params.get("mode", "form")
        if mode not in declared and not (mode == "form" and not declared):  # a bare {} means form
            raise ClientCapabilityMissing(f"The client does not take {mode} elicitations")
    if name == "sampling" and "tools" in params and "tools" not in declared:
        raise ClientCapabilityMissing("The client does not take sampling requests with tools")


def ask(ctx: Context, method: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send the request ``method`` with ``params`` to the client on this call's stream and return the
    client's result, waiting at most ``timeout`` seconds (and never past the call's deadline).

    Raises ``ClientCapabilityMissing``, ``ClientUnreachable``, ``ClientTimeout``, ``ClientRefused`` (the
    client answered with an error) or ``CallCancelled`` (the client left)."""
    _require_capability(ctx, method, params)
    outbox = ctx.outbox
    if outbox is None or ctx.session_id is None:
        raise ClientUnreachable(
            f"This call has no stream to send {method} on: requests to the client "
            "need a 2025 session and a client that takes SSE, outside a batch"
        )
    wait = min(timeout, ctx.remaining())
    if outbox.closed:
        raise CallCancelled("The client went away")
    if wait <= 0:
        raise ClientTimeout(f"No time left to ask the client {method}")
    request_id = ID_PREFIX + secrets.token_urlsafe(12)
    slot = _slot(ctx.session_id, request_id)
    sharedstate.set(PENDING + slot, _caller(ctx.token), math.ceil(wait) + ANSWER_TTL)
    try:
        with outbox.waiting_on(CHANNEL + slot):
            outbox.send(jsonrpc.request(request_id, method, params))
            answer = _wait(outbox, CHANNEL + slot, time.monotonic() + wait)
    finally:
        sharedstate.delete(PENDING + slot)
    if answer is None:
        reason = f"No answer within {wait:g} s"
        outbox.send(
            jsonrpc.notification("notifications/cancelled", {"requestId": request_id, "reason": reason})
        )
        raise ClientTimeout(f"The client did not answer {method} within {wait:g} s")
    return _result(method, answer)


def _wait(outbox: Outbox, channel: str, deadline: float) -> dict[str, Any] | None:
    while not outbox.closed:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        answer = sharedstate.receive(channel, min(remaining, WAIT_SLICE_SECONDS))
        if answer is not None and answer != _CANCELLED:
            return answer
    raise CallCancelled("The client went away")


def _result(method: str, answer: dict[str, Any]) -> dict[str, Any]:
    if "error" in answer:
        error = answer["error"]
        message = str(error.get("message"))[:500]
        raise ClientRefused(f"The client refused {method}: {message}", error.get("code"), error.get("data"))
    return answer["result"]


def deliver(answer: dict[str, Any], session_id: str | None, token: AccessToken) -> None:
    """Hand a client's JSON-RPC response (``answer``, POSTed in the session ``session_id``) to the call
    waiting for it, wherever it runs; one nobody waits for is dropped. An answer that is not the
    caller's to give is ``SessionNotFound``; a malformed one ``InvalidRequest``."""
    if "error" in answer:
        error = answer["error"]
        if not isinstance(error, dict) or not isinstance(error.get("code"), int) or "message" not in error:
            raise InvalidRequest("An error answer needs an error object with a code and a message")
        payload = {"error": error}
    elif isinstance(answer.get("result"), dict):
        payload = {"result": answer["result"]}
    else:
        raise InvalidRequest("A result answer needs a result object")
    request_id = answer.get("id")
    if session_id is None or not isinstance(request_id, str) or not request_id.startswith(ID_PREFIX):
        return
    slot = _slot(session_id, request_id)
    pending = sharedstate.get(PENDING + slot)
    if pending is None:
        return
    if pending != _caller(token):
        raise SessionNotFound()
    sharedstate.send(CHANNEL + slot, payload, ANSWER_TTL)

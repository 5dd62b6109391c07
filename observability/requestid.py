"""The request id: a sane incoming header or a fresh one, known to every log line of the request."""

from __future__ import annotations

import os
import random
import re
from contextvars import ContextVar, Token

# Ids that proxies and tracing systems send (UUIDs, hex, base64url, dotted or colon-separated
# trace ids); anything else (too long, spaces, quotes, control characters) is replaced.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}")
_current: ContextVar[str | None] = ContextVar("request_id", default=None)


# Fresh ids come from a generator seeded from the operating system's randomness once per process (and
# again in a forked child): unique and unpredictable enough for correlating log lines, which is all a
# request id is for (it grants nothing), without a system call per request.
_generator = random.Random(os.urandom(32))  # noqa: S311  (an id for log lines, not a secret)
os.register_at_fork(after_in_child=lambda: _generator.seed(os.urandom(32)))


def new() -> str:
    return f"{_generator.getrandbits(128):032x}"


def choose(incoming: str | None) -> str:
    """The incoming id when it is sane, otherwise a fresh random one."""
    if incoming and _SANE.fullmatch(incoming):
        return incoming
    return new()


def current() -> str | None:
    """The id of the request this thread is serving, if any."""
    return _current.get()


def bind(request_id: str) -> Token:
    return _current.set(request_id)


def unbind(token: Token) -> None:
    _current.reset(token)

"""The request id: a sane incoming header or a fresh one, known to every log line of the request."""

from __future__ import annotations

import os
import re
from contextvars import ContextVar, Token

# Ids that proxies and tracing systems send (UUIDs, hex, base64url, dotted or colon-separated
# trace ids); anything else (too long, spaces, quotes, control characters) is replaced.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}")
_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def new() -> str:
    """128 random bits from the operating system, as 32 hex digits. (A generator seeded once per process
    saves the system call, yet served /mcp slower under load: bench/REPORT.md, 2026-12-05.)"""
    return os.urandom(16).hex()


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

"""Log lines as JSON objects carrying the request id, with credentials scrubbed from every line."""

from __future__ import annotations

import json
import logging
import re
import time

import orjson

from . import requestid

# Fields a record may carry through ``extra=`` that belong in the JSON object.
FIELDS = ("method", "path", "route", "status", "duration_ms", "client", "user_agent")
_REDACTIONS = [
    # Credentials in an Authorization header value.
    (re.compile(r"(?i)\b(bearer|basic|dpop)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 [redacted]"),
    # A JWT (header.payload.signature, base64url): access tokens, ID tokens, assertions.
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    # Credentials in a query string or form body.
    (
        re.compile(
            r"(?i)\b(access_token|refresh_token|id_token|token|client_secret|password|code|code_verifier"
            r"|assertion|client_assertion|registration_access_token|secret)=[^&\s\"']+"
        ),
        r"\1=[redacted]",
    ),
]


# Every pattern above needs one of these; most lines have none and skip the substitutions.
_SUSPECT = re.compile(r"=|eyJ|(?i:bearer|basic|dpop)\s")
_encode_stdlib = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _encode(entry: dict) -> str:
    """One log line: orjson (a fifth of the cost), the standard library for what it refuses (lone
    surrogates in a message, say)."""
    try:
        return orjson.dumps(entry, default=str).decode()
    except TypeError:
        return _encode_stdlib(entry)


def redact(text: str) -> str:
    """Replace anything that looks like a token, a secret or a credential parameter."""
    if not _SUSPECT.search(text):
        return text
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class _Clock:
    """ISO 8601 UTC timestamps with milliseconds; the seconds part is formatted once per second."""

    def __init__(self) -> None:
        self.cached = (-1, "")  # (second, its formatted prefix), replaced as one object

    def format(self, created: float) -> str:
        second = int(created)
        cached_second, prefix = self.cached
        if cached_second != second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self.cached = (second, prefix)
        return f"{prefix}.{int((created - second) * 1000):03d}+00:00"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and the known extra fields."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.clock.format(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or requestid.current()
        if request_id:
            entry["request_id"] = request_id
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        elif record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return _encode(entry)


class TextFormatter(logging.Formatter):
    """The classic one-line format for local reading, with the request id and the same scrubbing."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = getattr(record, "request_id", None) or requestid.current() or "-"
        return redact(super().format(record))

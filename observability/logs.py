"""Log lines as JSON objects carrying the request id, with credentials scrubbed from every line."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

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


def redact(text: str) -> str:
    """Replace anything that looks like a token, a secret or a credential parameter."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and the known extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
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
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic one-line format for local reading, with the request id and the same scrubbing."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = getattr(record, "request_id", None) or requestid.current() or "-"
        return redact(super().format(record))

import json
import logging
import sys

import pytest

from observability import logs, requestid

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXBhcnQ"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"Authorization: Bearer {JWT}", "Authorization: Bearer [redacted]"),
        ("Authorization: Basic ZGVtbzpzZWNyZXQ=", "Authorization: Basic [redacted]"),
        (f"token {JWT} seen", "token [redacted-jwt] seen"),
        ("/cb?code=abc123&state=xyz", "/cb?code=[redacted]&state=xyz"),
        (
            "client_secret=s3cr3t&grant_type=client_credentials",
            "client_secret=[redacted]&grant_type=client_credentials",
        ),
        ("refresh_token=r-1&x=1", "refresh_token=[redacted]&x=1"),
        ("password=hunter2", "password=[redacted]"),
        ("error_code=5 nothing secret", "error_code=5 nothing secret"),
    ],
)
def test_redact(text, kept):
    assert logs.redact(text) == kept


def record(message: str, *args, **extra) -> logging.LogRecord:
    rec = logging.LogRecord("some.logger", logging.WARNING, __file__, 1, message, args, None)
    rec.__dict__.update(extra)
    return rec


def test_json_line_has_the_request_id_and_the_known_fields_only():
    token = requestid.bind("req-1")
    try:
        line = logs.JsonFormatter().format(
            record("GET %s %s", "/mcp", 200, status=200, route="mcp", other="x")
        )
    finally:
        requestid.unbind(token)
    entry = json.loads(line)
    assert entry["request_id"] == "req-1"
    assert entry["message"] == "GET /mcp 200"
    assert entry["status"] == 200 and entry["route"] == "mcp"
    assert entry["level"] == "WARNING" and entry["logger"] == "some.logger"
    assert "other" not in entry
    assert entry["time"].endswith("+00:00")


def test_json_line_scrubs_messages_and_tracebacks():
    try:
        raise ValueError(f"bad token {JWT}")
    except ValueError:
        rec = record("refused %s", f"Bearer {JWT}")
        rec.exc_info = sys.exc_info()
    line = logs.JsonFormatter().format(rec)
    assert JWT not in line
    entry = json.loads(line)
    assert "[redacted" in entry["message"] and "ValueError" in entry["exception"]


def test_text_format_carries_the_request_id():
    token = requestid.bind("req-2")
    try:
        line = logs.TextFormatter().format(record("hello password=x"))
    finally:
        requestid.unbind(token)
    assert "[req-2]" in line and "password=[redacted]" in line


def test_json_line_keeps_what_orjson_refuses_and_stringifies_odd_values():
    """A lone surrogate (from a client's JSON, say) goes through the standard library; any other value
    is written as its str()."""
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "bad \ud800 text", (), None)
    record.route = object()
    line = logs.JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == "bad \ud800 text"
    assert entry["route"].startswith("<object object")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain é", (), None)
    record.status = 200
    assert json.loads(logs.JsonFormatter().format(record))["status"] == 200

"""The live server's log watch: every 5xx, whatever the log's spacing, is a server error."""

from __future__ import annotations

import pytest

from .liveserver import LiveServer


@pytest.fixture
def unstarted():
    server = LiveServer()
    yield server
    server.stop()


@pytest.mark.parametrize(
    "line",
    [
        # The application's JSON access line (orjson: no spaces).
        '{"level":"INFO","logger":"observability.access","message":"POST /mcp 500","status":500}',
        '{"level":"INFO","message":"GET /x 503","status":503,"duration_ms":1}',
        # A JSON line with the standard library's spacing.
        '{"level": "INFO", "message": "POST /mcp 502", "status": 502}',
        # gunicorn's access log.
        '127.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "POST /mcp HTTP/1.1" 500 21 "-" "httpx"',
        '{"level":"ERROR","logger":"django.request","message":"Internal Server Error: /mcp"}',
    ],
)
def test_a_5xx_in_the_log_is_a_server_error(unstarted, line):
    unstarted.log_path.write_text("a line before\n" + line + "\na line after\n")
    assert unstarted.errors_since(0) == [line]


@pytest.mark.parametrize(
    "line",
    [
        '{"level":"INFO","message":"POST /mcp 200","status":200,"duration_ms":500.5}',
        '{"level":"INFO","message":"POST /mcp 400","status":400}',
        '{"level":"WARNING","logger":"django.security.DisallowedHost","message":"Invalid HTTP_HOST header"}',
        '{"level":"INFO","message":"GET /x 404","status":404,"argument_bytes":500}',
    ],
)
def test_other_lines_are_not(unstarted, line):
    unstarted.log_path.write_text(line + "\n")
    assert unstarted.errors_since(0) == []


def test_only_lines_after_the_offset_count(unstarted):
    first = '{"message":"POST /mcp 500","status":500}\n'
    unstarted.log_path.write_text(first + '{"message":"POST /mcp 200","status":200}\n')
    assert unstarted.errors_since(len(first)) == []


def test_the_access_line_of_a_500_as_the_server_writes_it_is_caught(unstarted):
    import logging

    from observability.logs import JsonFormatter

    access = logging.makeLogRecord(
        {"name": "observability.access", "levelno": logging.INFO, "levelname": "INFO",
         "msg": "POST /mcp 500", "status": 500, "method": "POST", "path": "/mcp"}
    )  # fmt: skip
    line = JsonFormatter().format(access)
    unstarted.log_path.write_text(line + "\n")
    assert unstarted.errors_since(0) == [line]

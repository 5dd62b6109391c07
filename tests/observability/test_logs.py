import io
import json
import logging
import multiprocessing
import os
import sys
import threading
import time

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


# --- BufferedStreamHandler: lines written in batches, in order, none lost ---


def info(message: str, level: int = logging.INFO, **extra) -> logging.LogRecord:
    rec = logging.LogRecord("some.logger", level, __file__, 1, message, (), None)
    rec.__dict__.update(extra)
    return rec


def buffered(stream, **kwargs) -> logs.BufferedStreamHandler:
    handler = logs.BufferedStreamHandler(stream, **kwargs)
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler


def wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_informational_lines_wait_for_the_writer_thread_then_arrive_in_order():
    stream = io.StringIO()
    handler = buffered(stream, interval=0.2)
    try:
        for n in range(3):
            handler.handle(info(f"line {n}"))
        assert stream.getvalue() == ""  # not one write per line
        assert wait_for(lambda: stream.getvalue() == "line 0\nline 1\nline 2\n")
    finally:
        handler.close()


@pytest.mark.parametrize(
    "urgent",
    [info("refused", logging.WARNING), info("crashed", logging.ERROR), info("GET /x 500", status=500)],
    ids=["warning", "error", "access line of a 5xx"],
)
def test_warnings_errors_and_server_errors_are_written_at_once_after_what_came_before(urgent):
    stream = io.StringIO()
    handler = buffered(stream, interval=60)
    try:
        handler.handle(info("before"))
        handler.handle(info("GET /ok 200", status=200))
        assert stream.getvalue() == ""
        handler.handle(urgent)
        assert stream.getvalue() == f"before\nGET /ok 200\n{urgent.getMessage()}\n"
    finally:
        handler.close()


def test_a_full_buffer_is_written_by_the_logging_thread_and_close_writes_the_rest():
    stream = io.StringIO()
    handler = buffered(stream, interval=60, capacity=3)
    handler.handle(info("a"))
    handler.handle(info("b"))
    assert stream.getvalue() == ""
    handler.handle(info("c"))
    assert stream.getvalue() == "a\nb\nc\n"
    handler.handle(info("d"))
    handler.close()  # logging.shutdown() at exit flushes and closes every handler
    assert stream.getvalue() == "a\nb\nc\nd\n"


def test_interval_zero_writes_every_line_at_once_without_a_thread():
    stream = io.StringIO()
    handler = buffered(stream, interval=0)
    handler.handle(info("now"))
    assert stream.getvalue() == "now\n"
    assert handler._writer is None


def test_lines_from_many_threads_are_neither_lost_nor_repeated():
    """Loggers append while the writer thread and full-buffer writes take lines concurrently."""
    stream = io.StringIO()
    handler = buffered(stream, interval=0.001, capacity=50)

    def log(thread: int) -> None:
        for n in range(2000):
            handler.handle(info(f"{thread}-{n}"))

    threads = [threading.Thread(target=log, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handler.close()
    lines = stream.getvalue().splitlines()
    assert sorted(lines) == sorted(f"{t}-{n}" for t in range(8) for n in range(2000))
    for t in range(8):  # each thread's lines in the order it logged them
        mine = [line for line in lines if line.startswith(f"{t}-")]
        assert mine == [f"{t}-{n}" for n in range(2000)]


def test_a_failing_stream_is_reported_not_raised_into_the_caller(capsys):
    class Broken(io.StringIO):
        def write(self, text):
            raise OSError("disk full")

    handler = buffered(Broken(), interval=0)
    handler.handle(info("lost", logging.ERROR))  # must not raise into the request that logged
    assert "disk full" in capsys.readouterr().err


def test_a_forked_child_does_not_write_the_lines_its_parent_buffered():
    stream = io.StringIO()
    handler = buffered(stream, interval=60)
    try:
        handler.handle(info("parent's line"))
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: its copy of the buffer must be empty
            os.write(write, str(len(handler._lines)).encode())
            os._exit(0)
        os.close(write)
        assert os.read(read, 16) == b"0"
        os.waitpid(pid, 0)
        os.close(read)
        assert list(handler._lines) == ["parent's line\n"]
    finally:
        handler.close()
    assert stream.getvalue() == "parent's line\n"


def _log_in_a_worker(path: str) -> None:
    handler = buffered(open(path, "a"), interval=60)  # noqa: SIM115  (the handler owns the file)
    logging.getLogger("worker-test").addHandler(handler)
    logging.getLogger("worker-test").setLevel(logging.INFO)
    logging.getLogger("worker-test").info("written before the worker exits")


def test_a_multiprocessing_worker_writes_its_buffered_lines_when_it_exits(tmp_path):
    """granian's workers are multiprocessing children, which end with os._exit (no atexit, no
    logging.shutdown): the handler's multiprocessing finalizer writes what is left."""
    path = tmp_path / "worker.log"
    process = multiprocessing.get_context("fork").Process(target=_log_in_a_worker, args=(str(path),))
    process.start()
    process.join(30)
    assert process.exitcode == 0
    assert path.read_text() == "written before the worker exits\n"


def test_the_console_handler_of_the_settings_is_the_buffered_one():
    from django.conf import settings

    console = settings.LOGGING["handlers"]["console"]
    assert console["class"] == "observability.logs.BufferedStreamHandler"
    assert console["interval"] == 0.1


def test_the_writer_keeps_its_interval_where_sleep_is_replaced_and_ends_on_close(monkeypatch):
    """The writer waits on an Event: a test that replaces time.sleep (recording calls, say) must not
    turn it into a loop that appends without end (it once filled a test run's memory)."""
    stream = io.StringIO()
    handler = buffered(stream, interval=0.05)
    handler.handle(info("written by the thread"))
    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    pause = threading.Event()
    for _ in range(100):  # waits that do not go through time.sleep
        if stream.getvalue():
            break
        pause.wait(0.05)
    assert stream.getvalue() == "written by the thread\n"
    pause.wait(0.2)
    assert slept == []
    writer = handler._writer
    handler.close()
    writer.join(timeout=5)
    assert not writer.is_alive()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/.well-known/oauth-authorization-server", "/mcp"])
def test_a_foreign_host_is_one_warning_line_not_an_error_with_a_traceback(client, caplog, path):
    """DNS-rebinding probes send ``Host: evil.example.com``: Django refuses them (400) and logs the
    refusal at ERROR with its traceback; a client's mistake is one warning line here."""
    with caplog.at_level(logging.INFO):
        response = client.post(path, b"{}", content_type="application/json", HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    refused = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    assert len(refused) == 1
    assert refused[0].levelno == logging.WARNING and refused[0].levelname == "WARNING"
    assert refused[0].exc_info is None and refused[0].exc_text is None
    line = logs.JsonFormatter().format(refused[0])
    assert "\n" not in line and "exception" not in json.loads(line)
    assert "evil.example.com" in json.loads(line)["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

"""config.wsgi: what it adapts for granian (process environment, one-chunk bodies, the frozen heap)."""

from __future__ import annotations

import os

import pytest

from config.wsgi import RequestOnlyEnviron


def seen_by_app(environ: dict, process: dict) -> dict:
    saved = dict(os.environ)
    os.environ.update(process)
    try:
        wrapper = RequestOnlyEnviron(lambda env, start_response: dict(env))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return wrapper(environ, None)


def test_process_variables_do_not_reach_request_meta():
    process = {"SECRET_KEY": "s" * 50, "DATABASE_URL": "postgres://u:p@db/x", "HTTP_PROXY": "http://evil:1"}
    request = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/mcp",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": "Bearer x",
        "wsgi.url_scheme": "http",
    }
    environ = {**process, **request}  # what granian hands the application
    assert seen_by_app(environ, process) == request


def test_a_clean_environ_is_left_alone():
    request = {"REQUEST_METHOD": "GET", "PATH_INFO": "/health", "HTTP_HOST": "a", "SERVER_PORT": "80"}
    assert seen_by_app(dict(request), {"SECRET_KEY": "s" * 50}) == request


def test_request_keys_named_like_process_variables_are_kept():
    """The server's own CGI keys win even when the process environment has the same names."""
    process = {"SERVER_NAME": "build-host", "PATH_INFO": "/nowhere"}
    request = {"REQUEST_METHOD": "GET", "PATH_INFO": "/health", "SERVER_NAME": "127.0.0.1"}
    assert seen_by_app(dict(request), process) == request


WORKER = """
import gc, config.wsgi, mcpserver.views
imported = gc.get_freeze_count()
config.wsgi.worker_application()
scanned = any(o is mcpserver.views.McpView for o in gc.get_objects(generation=2))
print("worker:", imported, gc.get_freeze_count(), scanned)
"""


def test_a_serving_worker_freezes_the_long_lived_heap_and_an_import_does_not():
    """Full collections would otherwise walk every module, class and URL pattern, pausing the worker.
    The worker's own path (``worker_application``, what the serving command loads) freezes them, in a
    process of its own; importing ``config.wsgi`` (this test run does) leaves the collector alone."""
    import gc
    import subprocess
    import sys
    from pathlib import Path

    import config.wsgi

    assert config.wsgi.application is not None
    assert gc.get_freeze_count() == 0
    worker = subprocess.run(
        [sys.executable, "-c", WORKER],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    (line,) = [line for line in worker.stdout.splitlines() if line.startswith("worker: ")]
    imported, frozen, view_still_scanned = line.split()[1:]
    assert int(imported) == 0
    assert int(frozen) > 10_000
    assert view_still_scanned == "False"


def test_a_finished_response_goes_out_as_one_chunk_and_is_closed_first():
    from django.http import HttpResponse

    from config.wsgi import OneChunkBody

    closed = []

    class Recorded(HttpResponse):
        def close(self):  # Django's close() sends request_finished (database connections released)
            closed.append(True)

    body = OneChunkBody(lambda environ, start_response: Recorded(b'{"ok": true}'))({}, None)
    assert body == [b'{"ok": true}']
    assert closed == [True]


@pytest.mark.django_db
def test_closing_sends_request_finished():
    from django.core.signals import request_finished
    from django.http import HttpResponse

    from config.wsgi import OneChunkBody

    finished = []
    request_finished.connect(receiver := lambda **kwargs: finished.append(True), weak=False)
    try:
        OneChunkBody(lambda environ, start_response: HttpResponse(b"{}"))({}, None)
    finally:
        request_finished.disconnect(receiver)
    assert finished == [True]


def test_a_streaming_response_is_left_to_the_server():
    from django.http import StreamingHttpResponse

    from config.wsgi import OneChunkBody

    response = StreamingHttpResponse(iter([b"data: 1\n\n", b"data: 2\n\n"]), content_type="text/event-stream")
    assert OneChunkBody(lambda environ, start_response: response)({}, None) is response
    assert not response.closed


def test_a_failing_close_is_logged_and_the_body_still_sent(caplog):
    from django.http import HttpResponse

    from config.wsgi import OneChunkBody

    class Failing(HttpResponse):
        def close(self):
            raise RuntimeError("boom")

    body = OneChunkBody(lambda environ, start_response: Failing(b"hi"))({}, None)
    assert body == [b"hi"]
    assert "Closing the response failed" in caplog.text

"""Small helpers shared by test modules."""

from __future__ import annotations

import contextlib
import socket

import pytest

# For a test whose other threads must see what it writes: its writes are committed, and the database is
# emptied after it. What the migrations wrote (the admin scopes and role) is then put back
# (``tests/conftest.py``), so that no test depends on running before this one: under pytest-xdist the
# order is not the file's.
committed = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def redis_available(host: str = "127.0.0.1", port: int = 6379) -> bool:
    """Whether a Redis answers on the usual local port (tests that need one skip otherwise)."""
    try:
        socket.create_connection((host, port), timeout=0.2).close()
        return True
    except OSError:
        return False


def granian_environ(
    method: str,
    path: str,
    body: bytes = b"",
    content_type: str = "",
    headers: dict[str, str] | None = None,
    host: str = "testserver",
    port: int | str = 80,
    base: dict | None = None,
) -> dict:
    """A WSGI environ as granian builds it: a copy of the process environment (CGI style; or of
    ``base``, taken once by a caller that builds many) under the request's own keys. For calling
    ``config.wsgi.application`` directly, without a server."""
    import io
    import os
    import sys

    environ = dict(os.environ if base is None else base)
    environ.update(
        {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": host,
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": f"{host}:{port}",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
    )
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def call_wsgi(application, environ: dict) -> tuple[str, bytes]:
    """Call a WSGI application as a server would: the status line and the whole body, then close()."""
    status = []
    response = application(environ, lambda line, response_headers, exc_info=None: status.append(line))
    try:
        body = b"".join(response)
    finally:
        getattr(response, "close", lambda: None)()  # a finished response comes back as a list, closed
    return status[0], body


@contextlib.contextmanager
def keep_test_transaction():
    """Calling a WSGI application directly, as Django's test client does: the request must not close
    the connection that holds the test's transaction (``close_old_connections`` would, on PostgreSQL)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    started = request_started.disconnect(close_old_connections)
    finished = request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:  # reconnected only if they were connected (the block may be inside another such block)
        if started:
            request_started.connect(close_old_connections)
        if finished:
            request_finished.connect(close_old_connections)


# A shared state nobody serves: every key operation fails at once ("connection refused"), and there is
# no change feed (``sharedstate.version`` reads None).
UNREACHABLE_STATE = {
    "BACKEND": "sharedstate.redis.RedisState",
    "LOCATION": "redis://127.0.0.1:1/0",
    "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
}


def wait_for_feed(timeout: float = 5.0) -> None:
    """Until the configured back end's change feed is up: Redis subscribes in a thread of its own, and
    until it has, ``sharedstate.version`` reads None. Other back ends answer at once (with a feed, or
    with None where there is none)."""
    import time

    import sharedstate
    from sharedstate.redis import RedisState

    if not isinstance(sharedstate.backend(), RedisState):
        return
    deadline = time.monotonic() + timeout
    while sharedstate.version("tests") is None and time.monotonic() < deadline:
        time.sleep(0.002)


def announce_elsewhere(topic: str) -> None:
    """Announce a change to ``topic`` as another process of the deployment does: through a back end of
    its own, and without this process's model signals. (An in-memory SQLite database has one process,
    whose change feed lives in its own back end: that one announces.)"""
    from django.db import connection

    import sharedstate
    from sharedstate.embedded import EmbeddedState
    from sharedstate.redis import RedisState

    other = sharedstate.build()
    if isinstance(other, EmbeddedState) and connection.vendor == "sqlite" and connection.is_in_memory_db():
        other = sharedstate.backend()
    other.announce(topic)
    if isinstance(other, RedisState):
        # The publisher's next round trip: the message is on its way to every subscriber by then, as
        # it is by the time a real announcer's reply could lead to this process's next request.
        other.client.ping()
        other.close()


def wait_until_moved(topic: str, before, timeout: float = 2.0) -> bool:
    """Whether ``sharedstate.version(topic)`` moves on from ``before``: at once on the embedded feed,
    on Redis once the announcement has come back over this process's subscription."""
    import time

    import sharedstate

    deadline = time.monotonic() + timeout
    while sharedstate.version(topic) == before:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True

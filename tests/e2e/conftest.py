"""End-to-end fixtures: one live server (the production serving command) per test session, over real HTTP.

Every test under ``tests/e2e`` is marked ``e2e`` (deselect with ``-m "not e2e"``). The server gets
its own database: a PostgreSQL database named by ``E2E_DATABASE_URL`` (created and dropped here;
each xdist worker adds its id) or a temporary SQLite file, and Redis as its cache when
``E2E_REDIS_URL`` (or ``REDIS_URL``) is set. Fixtures:

- ``live_server``: the running ``tests.e2e.liveserver.LiveServer`` (``.url``, ``.mcp_url``,
  ``.manage(...)``, ``.issue_token(user, scopes)``, ``.log_text()``, ``.errors_since(offset)``);
- ``http``: an ``httpx.Client`` on the server's base URL that never follows redirects;
- ``jwks``: a function returning the server's current ``jwt.PyJWKSet``;
- ``no_server_errors`` (automatic for every test that uses ``live_server``): fails a test during which
  the server logged a 5xx, a crash or a locked database.

A failing test's report carries the server log written during that test; after a session with
failures the log's tail is printed in the summary and its files are kept. Tests marked
``e2e_last`` (they change server-wide state, e.g. rotate the signing key) run after all others.
"""

from __future__ import annotations

import os

import httpx
import jwt
import pytest

from .liveserver import LiveServer, dev, with_worker_suffix

HERE = os.path.dirname(__file__)
LOG_TAIL_LINES = 200


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "e2e_last: changes the live server's shared state; runs after the other e2e tests"
    )
    config.addinivalue_line("markers", "slow: starts servers of its own (deselect with -m 'not slow')")
    config.stash[_failed_logs] = []


_failed_logs = pytest.StashKey[list]()
_log_offset = pytest.StashKey[int]()


def pytest_collection_modifyitems(config, items):
    ours = [item for item in items if str(item.path).startswith(HERE + os.sep)]
    for item in ours:
        item.add_marker(pytest.mark.e2e)
    last = [item for item in ours if item.get_closest_marker("e2e_last")]
    items[:] = [item for item in items if item not in last] + last


def pytest_report_header(config):
    database = (
        "PostgreSQL (E2E_DATABASE_URL)" if os.environ.get("E2E_DATABASE_URL") else "SQLite (temporary file)"
    )
    cache = "Redis" if os.environ.get("E2E_REDIS_URL") or os.environ.get("REDIS_URL") else "database cache"
    server = os.environ.get("E2E_WSGI_SERVER") or dev.DEFAULT_SERVER
    return f"e2e live server: {server} (dev.serving_command), {database}, {cache}"


@pytest.fixture(scope="session")
def live_server(request):
    """The production serving command on a fresh, migrated and seeded database."""
    database_url = os.environ.get("E2E_DATABASE_URL")
    server = LiveServer(
        database_url=with_worker_suffix(database_url) if database_url else None,
        redis_url=os.environ.get("E2E_REDIS_URL") or os.environ.get("REDIS_URL") or None,
    )
    failed_before = request.session.testsfailed
    server.start()
    yield server
    failed = request.session.testsfailed > failed_before
    if failed:
        tail = "\n".join(server.log_text().splitlines()[-LOG_TAIL_LINES:])
        request.config.stash[_failed_logs].append((str(server.log_path), tail))
    server.stop(keep_files=failed)


@pytest.fixture
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=30, follow_redirects=False) as client:
        yield client


@pytest.fixture
def jwks(live_server):
    def fetch() -> jwt.PyJWKSet:
        response = httpx.get(live_server.url + "/.well-known/jwks.json", timeout=10)
        response.raise_for_status()
        return jwt.PyJWKSet.from_dict(response.json())

    return fetch


@pytest.fixture(autouse=True)
def no_server_errors(request):
    """Fail a test that uses the shared live server when the server logged a 5xx, a crash or a locked
    database while it ran (xfail tests are exempt). Automatic: a 5xx is never an acceptable answer
    there; tests that provoke one do so on servers of their own."""
    if "live_server" not in request.fixturenames:
        yield
        return
    live_server = request.getfixturevalue("live_server")
    offset = live_server.log_size()
    yield
    if not request.node.get_closest_marker("xfail"):
        assert live_server.errors_since(offset) == []


# --- pytest-django and tests/conftest.py fixtures that make no sense against a separate process ---


@pytest.fixture(autouse=True)
def _live_server_helper():
    """Replaces pytest-django's helper, which would give these tests its in-process live server's DB."""


@pytest.fixture(autouse=True)
def _clear_cache():
    """The live server's cache is its own; clearing the in-process cache could flush a shared Redis."""


# --- the server log in failure reports ---


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    server = item.funcargs.get("live_server") if hasattr(item, "funcargs") else None
    if not isinstance(server, LiveServer):
        return report
    if call.when == "setup":
        item.stash[_log_offset] = server.log_size()
    elif report.failed:
        log = server.log_text(item.stash.get(_log_offset, 0))
        report.sections.append(("live server log", log or "(nothing logged during the test)"))
    return report


def pytest_terminal_summary(terminalreporter, config):
    for path, tail in config.stash.get(_failed_logs, []):
        terminalreporter.section("live server log (tail)")
        terminalreporter.write_line(f"full log kept at {path}")
        terminalreporter.write_line(tail)

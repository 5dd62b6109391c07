"""Faults under load: Redis dies and comes back empty, PostgreSQL restarts, the server is stopped.

One live server (the production serving command) runs on a private Redis and a private PostgreSQL
cluster (``services``), so stopping them never disturbs anybody else's tests. A few client threads
keep requests going while a service is taken away; every answer is recorded with its latency.

What must hold:

- Redis gone: nothing hangs and nothing answers 500; a revoked token is never accepted (not even
  after Redis returns empty, having forgotten the deny-list); what needs only the database keeps
  working (client credentials, stateless tool calls: revocations are then checked in the database);
  what needs Redis (lockouts, revocation, legacy sessions) refuses with 503 and ``Retry-After`` in the
  protocol's own error shape; everything works again once Redis is back, without a restart;
- PostgreSQL restarted: requests that need it fail fast with 503 and ``Retry-After`` during the
  outage, and succeed again right after it (stale persistent connections are dropped);
- audit records: a tool call accepted while the database is down is written once it is back, and a
  graceful shutdown finishes in-flight calls and writes their records.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from . import flows, services
from .liveserver import LiveServer

pytestmark = pytest.mark.slow  # its own servers and services: run once per CI run (.ci/run)

OUTAGE_SECONDS = 3
LEEWAY = 1  # seconds of clock leeway for the server
FAST = 3.0  # seconds: no answer may take longer, outage or not
ACCEPT = "application/json, text/event-stream"
LEGACY_VERSION = "2025-11-25"


@pytest.fixture(scope="module")
def stack(request):
    """A private Redis, a private PostgreSQL and one live server on both."""
    reason = services.available()
    if reason:
        pytest.skip(f"fault tests need private Redis and PostgreSQL servers: {reason}")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # thousands of requests: report failures only
    redis, postgres = services.PrivateRedis().start(), services.PrivatePostgres().start()
    server = LiveServer(
        database_url=postgres.database_url("faults"),
        redis_url=redis.url,
        workers=2,
        # A small clock leeway: tokens issued a few seconds after the deny-list (re)started (the
        # first tool call, the Redis restart) are trusted to it alone, so calls need no database.
        # One token carries the whole load (and four concurrent long calls): the per-caller in-flight
        # limit (tests/e2e/test_mcp_limits.py) is raised so that it refuses none of it.
        env={
            "LOG_FORMAT": "text",
            "MCP_AUDIT_FLUSH_SECONDS": "0.5",
            "MCP_LEEWAY_SECONDS": str(LEEWAY),
            "MCP_MAX_INFLIGHT_PER_CALLER": "8",
        },
    )
    failed = request.session.testsfailed
    try:
        server.start()
        yield redis, postgres, server
    finally:
        keep = request.session.testsfailed > failed
        if keep:
            print(f"\nkept the fault tests' server log: {server.log_path}")
        try:
            server.stop(keep_files=keep)
        finally:
            redis.close()
            postgres.close()


@pytest.fixture
def redis(stack) -> services.PrivateRedis:
    return stack[0]


@pytest.fixture
def postgres(stack) -> services.PrivatePostgres:
    return stack[1]


@pytest.fixture
def server(stack) -> LiveServer:
    return stack[2]


@pytest.fixture(autouse=True)
def _no_500(stack):
    """Outages may answer 503; nothing may answer 500 (a bug, or an outage mistaken for one)."""
    server = stack[2]
    offset = server.log_size()
    yield
    log = server.log_text(offset)
    assert not [line for line in log.splitlines() if " 500" in line and "observability.access" in line], log[
        -4000:
    ]
    assert "Internal Server Error" not in log, log[-4000:]


# --- requests ---


def service_token(server: LiveServer) -> str:
    response = httpx.post(
        server.url + flows.TOKEN, data={"grant_type": "client_credentials"}, auth=flows.SERVICE, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def fresh_token(server: LiveServer) -> str:
    """A token issued after the deny-list started (one call starts it), which the deny-list alone
    vouches for: calling with it needs no database. Older tokens are checked in the database once
    per worker process, and answer 503 if that cannot be done."""
    with httpx.Client(timeout=10) as http:
        assert call(http, server, service_token(server), echo_body("start")).status_code == 200
    time.sleep(LEEWAY + 1)
    return service_token(server)


def echo_body(message: str) -> dict:
    arguments = {"message": message}
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": arguments},
    }


def call(http: httpx.Client, server: LiveServer, token: str, body: dict, **headers: str) -> httpx.Response:
    return http.post(server.mcp_url, json=body, headers={"Authorization": f"Bearer {token}", **headers})


def revoke(server: LiveServer, token: str) -> httpx.Response:
    return httpx.post(server.url + "/oauth/revoke/", data={"token": token}, auth=flows.SERVICE, timeout=10)


def initialize(server: LiveServer, token: str) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": LEGACY_VERSION, "capabilities": {}, "clientInfo": {"name": "faults"}},
    }
    headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT, "MCP-Protocol-Version": LEGACY_VERSION}
    return httpx.post(server.mcp_url, json=body, headers=headers, timeout=10)


def audit_digest(arguments: dict) -> str:
    """What the audit trail keeps of a call's arguments (``mcpserver.audit.digest``)."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def audited(postgres: services.PrivatePostgres, arguments: dict) -> int:
    query = "SELECT count(*) FROM mcpserver_auditrecord WHERE argument_digest = %s"
    with psycopg.connect(postgres.database_url("faults"), connect_timeout=5) as conn:
        return conn.execute(query, [audit_digest(arguments)]).fetchone()[0]


def wait_for_audit(
    postgres: services.PrivatePostgres, arguments: dict, expected: int, timeout: float = 15
) -> int:
    deadline, count = time.monotonic() + timeout, -1
    while time.monotonic() < deadline:
        count = audited(postgres, arguments)
        if count >= expected:
            return count
        time.sleep(0.2)
    return count


# --- load ---


@dataclass
class Outcome:
    action: str
    started: float
    seconds: float
    status: int | None  # None: no answer at all (timeout or connection error)
    headers: httpx.Headers | None
    body: object


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


class Load:
    """A few threads sending the given requests round-robin until stopped, recording every answer."""

    def __init__(self, actions: dict[str, Callable[[httpx.Client], httpx.Response]], threads: int = 3):
        self.actions, self.outcomes = list(actions.items()), []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, offset: int) -> None:
        with httpx.Client(timeout=FAST * 3) as http:
            i = offset
            while not self._stop.is_set():
                name, send = self.actions[i % len(self.actions)]
                i += 1
                started = time.monotonic()
                try:
                    response = send(http)
                    outcome = Outcome(name, started, time.monotonic() - started, response.status_code,
                                      response.headers, _json(response))  # fmt: skip
                except httpx.HTTPError as exc:
                    outcome = Outcome(name, started, time.monotonic() - started, None, None, repr(exc))
                with self._lock:
                    self.outcomes.append(outcome)
                time.sleep(0.01)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=FAST * 4)

    def of(self, action: str, since: float = float("-inf"), until: float = float("inf")) -> list[Outcome]:
        return [o for o in self.outcomes if o.action == action and since <= o.started < until]


def assert_answered_fast(outcomes: list[Outcome]) -> None:
    slow = [
        (o.action, o.status, round(o.seconds, 2)) for o in outcomes if o.status is None or o.seconds > FAST
    ]
    assert not slow, f"{len(slow)} requests without a fast answer: {slow[:10]}"


def assert_unavailable_oauth(outcome: Outcome | httpx.Response) -> None:
    """503, ``Retry-After`` and RFC 6749's error JSON, nothing about the cause."""
    status = outcome.status if isinstance(outcome, Outcome) else outcome.status_code
    body = outcome.body if isinstance(outcome, Outcome) else outcome.json()
    assert status == 503, body
    assert int(outcome.headers["retry-after"]) > 0
    assert body == {
        "error": "temporarily_unavailable",
        "error_description": "The service is temporarily unavailable; try again shortly.",
    }


def assert_unavailable_jsonrpc(outcome: Outcome | httpx.Response) -> None:
    """503, ``Retry-After`` and a JSON-RPC error object, nothing about the cause."""
    status = outcome.status if isinstance(outcome, Outcome) else outcome.status_code
    body = outcome.body if isinstance(outcome, Outcome) else outcome.json()
    assert status == 503, body
    assert int(outcome.headers["retry-after"]) > 0
    assert body["jsonrpc"] == "2.0" and set(body) == {"jsonrpc", "id", "error"}
    assert body["error"] == {"code": -32000, "message": "Service temporarily unavailable; retry shortly"}


def statuses(outcomes: list[Outcome]) -> dict[int | None, int]:
    counts: dict[int | None, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts


# --- Redis ---


def test_redis_dies_and_returns_empty_without_a_revoked_token_ever_being_accepted(redis, postgres, server):
    live, revoked, spared = service_token(server), service_token(server), service_token(server)
    with httpx.Client(timeout=10) as http:
        assert call(http, server, revoked, echo_body("cached")).status_code == 200  # verification cached
        assert revoke(server, revoked).status_code == 200
        assert call(http, server, revoked, echo_body("refused")).status_code == 401

    actions = {
        "token": lambda http: http.post(
            server.url + flows.TOKEN, data={"grant_type": "client_credentials"}, auth=flows.SERVICE
        ),
        "live": lambda http: call(http, server, live, echo_body("live")),
        "revoked": lambda http: call(http, server, revoked, echo_body("revoked")),
    }
    with Load(actions, threads=6) as load:  # enough failures to wear out a connection pool
        time.sleep(1)
        redis.stop()
        down = time.monotonic()
        time.sleep(0.5)
        # What needs Redis refuses politely, in each protocol's own shape.
        assert_unavailable_jsonrpc(initialize(server, live))
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert_unavailable_oauth(flows.password_grant(http, "alice"))
        assert_unavailable_oauth(revoke(server, spared))  # nothing changed: ``spared`` stays live
        time.sleep(OUTAGE_SECONDS - 0.5)
        redis.start()  # empty: the deny-list holding ``revoked`` is gone
        up = time.monotonic()
        time.sleep(2)

    assert_answered_fast(load.outcomes)
    during = {action: load.of(action, down + 0.1, up) for action in actions}
    assert all(during.values()), {action: len(outcomes) for action, outcomes in during.items()}
    assert statuses(load.of("revoked")) == {401: len(load.of("revoked"))}
    assert statuses(load.of("live")) == {200: len(load.of("live"))}  # revocations checked in the database
    assert statuses(load.of("token")) == {200: len(load.of("token"))}  # rate limit counted per process

    # Back to normal without a restart: sessions, lockouts and revocation work through Redis again,
    # in every worker (each connection may reach another one), however many requests failed.
    assert [initialize(server, live).status_code for _ in range(12)] == [200] * 12
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert flows.password_grant(http, "alice").status_code == 200
    with httpx.Client(timeout=10) as http:
        assert call(http, server, spared, echo_body("spared")).status_code == 200
        assert call(http, server, revoked, echo_body("still revoked")).status_code == 401
        assert revoke(server, spared).status_code == 200
        assert call(http, server, spared, echo_body("now revoked")).status_code == 401
        assert call(http, server, live, echo_body("live")).status_code == 200
    # And the deny-list is Redis's again in every worker: tool calls need no database any more.
    token = fresh_token(server)
    postgres.stop()
    try:
        # httpx.post: a new connection each time, so any worker may answer.
        answers = [call(httpx, server, token, echo_body("Redis only")).status_code for _ in range(12)]
    finally:
        postgres.start()
    assert answers == [200] * 12


def test_a_hung_redis_costs_at_most_its_socket_timeout(redis, server):
    """Redis paused (it accepts connections but never answers): requests wait for the one-second
    socket timeout, then go on as without Redis."""
    token = fresh_token(server)
    redis.pause()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            for _ in range(2):
                started = time.monotonic()
                assert call(http, server, token, echo_body("hung")).status_code == 200
                assert time.monotonic() - started < FAST
            started = time.monotonic()
            assert_unavailable_oauth(flows.password_grant(http, "alice"))
            assert time.monotonic() - started < FAST
    finally:
        redis.resume()
    with httpx.Client(timeout=10) as http:
        assert call(http, server, token, echo_body("answered again")).status_code == 200
    assert initialize(server, token).status_code == 200


# --- PostgreSQL ---


def test_a_postgres_restart_fails_fast_with_503_and_recovers_without_a_server_restart(postgres, server):
    live = fresh_token(server)
    actions = {
        "token": lambda http: http.post(
            server.url + flows.TOKEN, data={"grant_type": "client_credentials"}, auth=flows.SERVICE
        ),
        "introspect": lambda http: http.post(
            server.url + "/oauth/introspect/", data={"token": live}, auth=flows.SERVICE
        ),
        "call": lambda http: call(http, server, live, echo_body("during a restart")),
    }
    with Load(actions) as load:
        time.sleep(1)
        postgres.stop()
        down = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        restarting = time.monotonic()  # it may accept connections a little before start() returns
        postgres.start()
        up = time.monotonic()
        time.sleep(2)

    assert_answered_fast(load.outcomes)
    for action in ("token", "introspect"):
        during = load.of(action, down, restarting)
        assert during, action
        for outcome in during:
            assert_unavailable_oauth(outcome)
        after = load.of(action, up)
        assert after and statuses(after) == {200: len(after)}, statuses(after)
    # Tool calls need no database (JWT, Redis, audit buffered): they never stopped.
    assert statuses(load.of("call")) == {200: len(load.of("call"))}

    # Every worker thread's persistent connection was cut: each one reconnects on its own.
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: service_token(server), range(24)))
    assert len(answers) == 24


# --- audit records ---


def test_tool_calls_accepted_while_the_database_is_down_are_audited_once_it_is_back(postgres, server):
    token = fresh_token(server)
    arguments = {"message": f"audited across an outage {time.time()}"}
    body = echo_body(arguments["message"])
    accepted = 0
    with httpx.Client(timeout=10) as http:
        assert call(http, server, token, body).status_code == 200  # keys loaded, verification cached
        accepted += 1
        postgres.stop()
        try:
            for _ in range(20):
                response = call(http, server, token, body)
                if response.status_code == 200:
                    accepted += 1
                else:
                    assert_unavailable_jsonrpc(response)  # not accepted: then nothing to audit
            time.sleep(1.5)  # the audit writer tries, fails and keeps the records
        finally:
            postgres.start()
    assert accepted == 21  # tool calls with a fresh token need no database
    assert wait_for_audit(postgres, arguments, accepted) == accepted


def test_a_graceful_shutdown_during_a_database_outage_finishes_calls_and_loses_no_audit_record(
    postgres, server
):
    """Last: it stops the server. Tool calls are running when the database goes away; more are
    accepted and buffered; SIGTERM arrives; the database comes back while the workers shut down."""
    token = fresh_token(server)
    arguments = {"steps": 8, "interval_ms": 250}
    long_body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "long_task", "arguments": arguments},
    }
    echoed = {"message": f"buffered at shutdown {time.time()}"}

    def long_call(_) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.post(server.mcp_url, json=long_body, headers=headers, timeout=30)

    with httpx.Client(timeout=10) as http, ThreadPoolExecutor(4) as pool:
        assert call(http, server, token, echo_body("warm")).status_code == 200  # this connection's worker
        running = [pool.submit(long_call, i) for i in range(4)]
        time.sleep(0.3)  # accepted, and running for two more seconds
        postgres.stop()
        try:
            buffered = [call(http, server, token, echo_body(echoed["message"])) for _ in range(10)]
            stopping = threading.Thread(target=server._terminate)  # SIGTERM, then wait for the exit
            stopping.start()
            answers = [future.result() for future in running]
            time.sleep(1)  # the workers finish, try to write their records and wait for the database
        finally:
            postgres.start()
        stopping.join(timeout=40)
    assert not stopping.is_alive()
    assert [response.status_code for response in buffered] == [200] * 10
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"]["content"][0]["text"] == "Finished 8 steps."
    assert audited(postgres, echoed) == 10
    assert audited(postgres, arguments) == 4

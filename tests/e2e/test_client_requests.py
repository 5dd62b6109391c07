"""Requests from the server to the client across processes and instances, with the official MCP Python
SDK (legacy mode) as the client and the conformance fixture tools (``test_elicitation``,
``test_sampling``) asking it.

The SDK talks to a loopback proxy in front of two server processes, as a load balancer would be. The
proxy sends each ``tools/call`` to the instance after the one that took the previous call, and the
client's answer (a JSON-RPC response) always to the other instance: the answer must travel from the
process that accepted it to the one holding the call's stream. Two deployments:

- PostgreSQL + Redis: two instances (two workers each) sharing one database and one Redis. PostgreSQL
  comes from ``E2E_ASKS_DATABASE_URL`` (or ``E2E_DATABASE_URL`` with ``_asks`` added) or the local
  server; Redis from ``E2E_REDIS_URL``/``REDIS_URL`` or the local one; skipped when unreachable.
- the embedded default: two server processes on one SQLite database (one worker each: two workers of
  one host, whose messages go through the database cache and the change feed's slot file).

And a fault: the instance holding the stream dies while its call waits for the client; the client
gets an error within seconds, never a hang.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socketserver
import threading
import time

import anyio
import httpx
import pytest

from . import pairs
from .liveserver import LiveServer, free_port

pytest.importorskip("mcp")
httpx2 = pytest.importorskip("httpx2")

from mcp import types  # noqa: E402
from mcp.client import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402

pytestmark = pytest.mark.slow  # servers of its own

SETTINGS = {"MCP_FIXTURE_PACK": "true"}
SCOPES = ["mcp:read", "mcp:tools"]
_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}


class Crossing:
    """A loopback proxy to two servers that sends each client answer to the server not holding the call.

    ``routes`` records ``(server index, kind, status)`` per request, kind being the JSON-RPC method, or
    ``"answer"`` for a client's response. A server that dies mid-response makes the proxy drop the
    client's connection (as a load balancer does), not end the body cleanly."""

    def __init__(self, servers: list[LiveServer]) -> None:
        self.servers, self.routes = servers, []
        self.holding: int | None = None  # the server that took the last tools/call
        self.turns = {"tools/call": 0, "other": 0}  # whose turn it is, for calls and for the rest
        self._lock = threading.Lock()
        self.upstream = httpx.Client(timeout=60)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                index, kind = proxy.route(body)
                target = proxy.servers[index].url + self.path
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                try:
                    with proxy.upstream.stream(
                        self.command, target, headers=headers, content=body
                    ) as upstream:
                        proxy.routes.append((index, kind, upstream.status_code))
                        self.send_response(upstream.status_code)
                        for name, value in upstream.headers.items():
                            if name.lower() not in _HOP:
                                self.send_header(name, value)
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        for chunk in upstream.iter_raw():
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                            self.wfile.flush()
                        self.wfile.write(b"0\r\n\r\n")
                except httpx.TransportError:  # the server died: so does the client's connection
                    proxy.routes.append((index, kind, "dropped"))
                    self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = do_POST = do_DELETE = forward

            def log_message(self, *args) -> None:
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address) -> None:
                pass  # a client that closed its kept-alive connection

        self.server = Server(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/mcp"

    def route(self, body: bytes) -> tuple[int, str]:
        try:
            message = json.loads(body) if body else {}
        except ValueError:
            message = {}
        if not isinstance(message, dict):
            message = {}
        with self._lock:
            if "method" not in message and "id" in message:
                return 1 - (self.holding or 0), "answer"
            method = message.get("method", "")
            turn = "tools/call" if method == "tools/call" else "other"
            index = self.turns[turn]
            self.turns[turn] = 1 - index
            if method == "tools/call":
                self.holding = index
            return index, method

    def close(self) -> None:
        self.server.shutdown()
        self.upstream.close()


def sdk_client(url: str, token: str, on_elicit=None) -> Client:
    async def elicit(context, params: types.ElicitRequestParams):
        if on_elicit is not None:
            on_elicit()
        return types.ElicitResult(action="accept", content={"username": "ada", "email": "ada@example.com"})

    async def sample(context, params: types.CreateMessageRequestParams):
        asked = params.messages[0].content.text
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=f"echo of {asked}"),
            model="test-model",
        )

    http_client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return Client(
        streamable_http_client(url, http_client=http_client),
        mode="legacy",
        elicitation_callback=elicit,
        sampling_callback=sample,
    )


async def _elicit_and_sample(url: str, token: str) -> tuple[str, str]:
    async with sdk_client(url, token) as client:
        elicited = await client.call_tool("test_elicitation", {"message": "Who are you?"})
        sampled = await client.call_tool("test_sampling", {"prompt": "a haiku"})
        return elicited.content[0].text, sampled.content[0].text


def _assert_answers_crossed(proxy: Crossing) -> None:
    calls = [(index, status) for index, kind, status in proxy.routes if kind == "tools/call"]
    answers = [(index, status) for index, kind, status in proxy.routes if kind == "answer"]
    assert [status for _, status in calls] == [200, 200]
    assert [status for _, status in answers] == [202, 202]
    assert {index for index, _ in calls} == {0, 1}  # one call on each instance
    assert [index for index, _ in answers] == [1 - index for index, _ in calls]  # each answer elsewhere


def _check_round_trip(servers: list[LiveServer]) -> None:
    token = servers[0].issue_token("admin", SCOPES)
    offsets = [server.log_size() for server in servers]
    proxy = Crossing(servers)
    try:
        elicited, sampled = anyio.run(_elicit_and_sample, proxy.url, token)
    finally:
        proxy.close()
    assert elicited == 'User response: action=accept, content={"username": "ada", "email": "ada@example.com"}'
    assert sampled == "LLM response: echo of a haiku"
    _assert_answers_crossed(proxy)
    for server, offset in zip(servers, offsets, strict=True):
        assert server.errors_since(offset) == [], server.log_text(offset)[-3000:]


def _database_url() -> str:
    return os.environ.get("E2E_ASKS_DATABASE_URL") or pairs.database_url("asks")


def test_answers_reach_the_call_on_another_instance_through_postgresql_and_redis():
    database, redis = _database_url(), pairs.redis_url()
    pairs.skip_unless_reachable(database, redis)
    with pairs.running(LiveServer(database_url=database, redis_url=redis, workers=2, env=SETTINGS)) as both:
        _check_round_trip(list(both))


@pytest.fixture(scope="module")
def embedded_pair():
    """Two server processes on one SQLite database (the fault test, last, kills one of them)."""
    with pairs.running(LiveServer(workers=1, env=SETTINGS)) as both:
        yield both


def test_answers_reach_the_call_in_another_process_on_the_embedded_default(embedded_pair):
    _check_round_trip(list(embedded_pair))


async def _call_while_dying(url: str, token: str, kill) -> tuple[str, float]:
    with anyio.fail_after(30):  # a hang fails the test instead of holding it
        async with sdk_client(url, token, on_elicit=kill) as client:
            started = time.monotonic()
            try:
                result = await client.call_tool("test_elicitation", {"message": "Still there?"})
                outcome = f"answered: {result.content[0].text}"
            except MCPError as exc:
                outcome = f"error: {exc}"
            return outcome, time.monotonic() - started


def test_the_client_gets_an_error_when_the_instance_holding_its_stream_dies(embedded_pair):
    a, b = embedded_pair
    proxy = Crossing([a, b])
    killed = []

    def kill_the_holder() -> None:
        holder = proxy.servers[proxy.holding]
        os.killpg(holder.pid, signal.SIGKILL)
        holder.process.wait(10)
        killed.append(holder)

    try:
        token = a.issue_token("admin", SCOPES)
        offsets = [a.log_size(), b.log_size()]
        outcome, took = anyio.run(_call_while_dying, proxy.url, token, kill_the_holder)
    finally:
        proxy.close()
    assert killed, "the server never asked the client"
    assert outcome.startswith("error: "), outcome
    assert took < 10
    (holder,) = [index for index, server in enumerate(proxy.servers) if server is killed[0]]
    answers = [(index, status) for index, kind, status in proxy.routes if kind == "answer"]
    # The survivor accepts the answer nobody waits for any more; unless the client, told of the error,
    # ended its session first (its DELETE and its answer race): then there is no such session.
    answered = next(position for position, (_, kind, _) in enumerate(proxy.routes) if kind == "answer")
    ended = any(status == 204 for _, kind, status in proxy.routes[:answered] if kind == "")  # a DELETE
    assert answers == [(1 - holder, 404 if ended else 202)]
    survivor = proxy.servers[1 - holder]
    assert survivor.errors_since(offsets[1 - holder]) == []

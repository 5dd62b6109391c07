"""The benchmark suite, one command: a Markdown report and a latency plot (PNG) in bench/results/.

    .venv/bin/python bench/suite.py                         # every section, 10 s per run
    .venv/bin/python bench/suite.py --sections serving --duration 5
    .venv/bin/python bench/suite.py --publish               # also copy the report and plot to bench/

Sections (each starts its own live server through ``tests.e2e.liveserver.LiveServer``, i.e. the
production serving command of ``dev.py serve`` on a fresh database, with wrk on the same machine):

- ``serving``: gunicorn sync, gunicorn gthread and granian (WSGI) on the plain view (``GET /health``:
  the whole middleware stack, no database), ``/mcp`` tools/call ``echo`` and client_credentials tokens;
- ``mcp``: ``/mcp`` tools/call ``echo`` (JWT verification, revocation check, scope check, audit)
  next to the plain view, to ``typed_echo`` (``bench/typed.py``: the same tool in the type-hint
  style, its arguments validated by pydantic), to ``drf_echo`` (``bench/drf_echo.py``: the same
  fields in a DRF serializer, which validates them) and to the two rounds of a 2026-07-28
  input-required call of ``confirm_echo`` (``bench/asking.py``: round 1 asks, with a sealed
  requestState; round 2 brings the answer and that state, one state for the whole run), the server
  running ``bench.mcp_settings``, on the embedded default (SQLite + database cache) and on
  PostgreSQL + Redis;
  at the highest client count the pair runs ``--runs`` times (alternating) and the median run is
  reported, every run's figures in the notes;
- ``tokens``: client_credentials and refresh-token rotation (each request spends a fresh refresh
  token, as a client does) on both back ends;
- ``dpop``: ``/mcp`` tools/call ``echo`` with a Bearer token and with a DPoP-bound one (a fresh proof
  signed by the load generator for every request, verified by the server on every request: signature,
  claims, and the ``jti`` spent in the shared state), both driven by the Python load generator;
- ``tasks``: creating a task (``tools/call long_task`` answered with a handle by a client that takes the
  tasks extension) and polling one (``tasks/get``), with a task worker beside the server, on both back
  ends;
- ``growth``: ``/mcp`` before and after 100,000 users, 1,000,000 issued tokens, 100,000 revoked
  tokens and 1,000 registered tools (the server restarted with ``bench.settings``), with the first
  page of ``tools/list``.

Every run waits for the machine to be quiet first and reports how busy the machine was.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import run  # noqa: E402  (bench/run.py: the load generator and the CPU accounting)
from run import Result, Scenario, measure, run_wrk  # noqa: E402

import dev  # noqa: E402
from tests.e2e.liveserver import LiveServer  # noqa: E402

RESULTS = ROOT / "bench" / "results"
REFRESH_SCRIPT = ROOT / "bench" / "refresh.lua"
PG_URL = "postgres://postgres@127.0.0.1:5432/mcp_bench"
REDIS_URL = "redis://127.0.0.1:6379/13"
GROWTH_PAGE_SIZE = 3  # fewer than the built-in tools, so that both first pages are full
TARGETS = {"mcp_rps": 5000, "mcp_p99_ms": 25, "mcp_share": 0.70, "tokens_rps": 600}
# A benchmark is a flood from one client (and one token): the per-client token limit and the per-caller
# in-flight limit on /mcp (0: none; the counter itself still runs) would stop it.
# Empty MCP_AUDIT_SPOOL_DIR: the product's default spool location, not the test server's own directory.
BENCH_ENV = {"TOKEN_RATE_LIMIT": str(10**9), "MCP_MAX_INFLIGHT_PER_CALLER": "0", "MCP_AUDIT_SPOOL_DIR": ""}

PLAIN = Scenario("plain view: GET /health", "GET", "/health")
TOKENS = Scenario(
    "tokens: client_credentials",
    "POST",
    "/oauth/token/",
    "grant_type=client_credentials",
    "Basic " + base64.b64encode(b"demo-service:demo-service-secret").decode(),
)
REFRESH = Scenario("tokens: refresh_token rotation", "POST", "/oauth/token/")
ASSERTIONS = Scenario("tokens: client_credentials, private_key_jwt (ES256)", "POST", "/oauth/token/")
ASSERTIONS_SCRIPT = ROOT / "bench" / "assertions.lua"
ASSERTIONS_PER_SECOND = 3000  # signed ahead of each run: more than the endpoint answers


def mcp_call(token: str, method: str = "tools/call", params: dict | None = None, label: str = "") -> Scenario:
    params = {"name": "echo", "arguments": {"message": "hello"}} if params is None else params
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    return Scenario(
        label or f"/mcp {method} echo",
        "POST",
        "/mcp",
        body,
        f"Bearer {token}",
        content_type="application/json",
        headers=(("Accept", "application/json, text/event-stream"), ("MCP-Protocol-Version", "2025-11-25")),
    )


@dataclass
class Row:
    """One measured run, with the labels the report groups by."""

    section: str
    setup: str
    result: Result

    @property
    def name(self) -> str:
        return self.result.scenario.name


@dataclass
class Suite:
    args: argparse.Namespace
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def run(
        self,
        section: str,
        setup: str,
        server: LiveServer,
        scenario: Scenario,
        clients: int,
        generator=run_wrk,
    ):
        result = self.measure(setup, server, scenario, clients, generator)
        self.rows.append(Row(section, setup, result))
        return result

    def measure(self, setup: str, server: LiveServer, scenario: Scenario, clients: int, generator=run_wrk):
        print(f"  {setup}: {clients:>3} clients, {scenario.name} ...", file=sys.stderr, flush=True)
        return measure(server, scenario, clients, self.args.duration, generator, self.args.quiet_wait)

    def run_alternating(
        self, section: str, setup: str, server: LiveServer, scenarios: list[Scenario], clients: int, runs: int
    ) -> None:
        """``runs`` rounds of every scenario in turn; the table gets each scenario's median run (by
        requests/s) and the notes every run's figures. A single run moves with the machine's speed from
        one minute to the next, by more than the differences being measured."""
        results: dict[str, list[Result]] = {scenario.name: [] for scenario in scenarios}
        for _ in range(runs):
            for scenario in scenarios:
                results[scenario.name].append(self.measure(setup, server, scenario, clients))
        for scenario in scenarios:
            ordered = sorted(results[scenario.name], key=lambda result: result.per_second)
            self.rows.append(Row(section, setup, ordered[len(ordered) // 2]))
            if runs > 1:
                figures = ", ".join(
                    f"{r.per_second:,.0f} req/s p99 {r.p99_ms:.1f} ms" for r in results[scenario.name]
                )
                self.notes.append(
                    f"{setup}, {clients} clients, {scenario.name}: {runs} runs alternating with the other "
                    f"scenarios ({figures}); the table shows the median run"
                )


def start(server_kind: str | None = None, postgres: bool = False, **kwargs) -> LiveServer:
    server = LiveServer(
        database_url=PG_URL if postgres else None,
        redis_url=REDIS_URL if postgres else None,
        server=server_kind,
        env={**BENCH_ENV, **kwargs.pop("env", {})},
        **kwargs,
    )
    server.start()
    return server


def warm_up(server: LiveServer, scenarios: list[Scenario], seconds: float) -> None:
    for scenario in scenarios:
        run_wrk(server, scenario, 16, seconds)


# --- sections ---


# (server, threads per worker): granian with three thread counts (the default is chosen from these
# figures), then gunicorn's gthread and sync workers.
SERVING_SETUPS = (("granian", 2), ("granian", 3), ("granian", 4), ("gthread", 4), ("sync", 1))


def serving(suite: Suite) -> None:
    for kind, threads in SERVING_SETUPS:
        server = start(kind, threads=threads)
        try:
            token = server.issue_token("alice", ["mcp:read", "mcp:tools"], lifetime=86400)
            scenarios = [PLAIN, mcp_call(token), TOKENS]
            warm_up(server, scenarios, suite.args.warmup)
            setup = (
                f"{kind} ({server.workers} workers{'' if kind == 'sync' else f' x {server.threads} threads'})"
            )
            for clients in suite.args.clients:
                for scenario in scenarios:
                    suite.run("serving", setup, server, scenario, clients)
        finally:
            server.stop()


def backends(suite: Suite) -> list[tuple[str, bool]]:
    chosen = [("SQLite + database cache", False)]
    if not suite.args.no_postgres:
        chosen.append(("PostgreSQL + Redis", True))
    return chosen


def typed_call(token: str) -> Scenario:
    """tools/call ``typed_echo`` (``bench/typed.py``) with the arguments ``echo`` gets."""
    params = {"name": "typed_echo", "arguments": {"message": "hello"}}
    return mcp_call(token, params=params, label="/mcp tools/call typed_echo (type hints)")


def drf_call(token: str) -> Scenario:
    """tools/call ``drf_echo`` (``bench/drf_echo.py``) with the arguments ``echo`` gets."""
    params = {"name": "drf_echo", "arguments": {"message": "hello"}}
    return mcp_call(token, params=params, label="/mcp tools/call drf_echo (DRF serializer)")


MODERN = "2026-07-28"


def input_required_calls(server: LiveServer, token: str) -> list[Scenario]:
    """The two rounds of tools/call ``confirm_echo`` (2026-07-28): the first asks; the second answers with
    the requestState of one first round made here (a state serves any number of identical retries)."""
    import httpx

    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
    }
    first = {"name": "confirm_echo", "arguments": {"message": "hello"}, "_meta": meta}
    headers = (
        ("Accept", "application/json, text/event-stream"),
        ("MCP-Protocol-Version", MODERN),
        ("Mcp-Method", "tools/call"),
        ("Mcp-Name", "confirm_echo"),
    )
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": first}
    asked = httpx.post(
        server.url + "/mcp",
        json=body,
        headers={"Authorization": f"Bearer {token}", **dict(headers)},
        timeout=30,
    ).json()["result"]
    answered = {**first, "inputResponses": {"confirm": {"action": "accept", "content": {"ok": True}}}}
    answered["requestState"] = asked["requestState"]
    return [
        Scenario(
            f"/mcp input required, round {number}: {what}",
            "POST",
            "/mcp",
            json.dumps({"jsonrpc": "2.0", "id": number, "method": "tools/call", "params": params}),
            f"Bearer {token}",
            content_type="application/json",
            headers=headers,
        )
        for number, what, params in ((1, "asks", first), (2, "answer + requestState", answered))
    ]


def mcp(suite: Suite) -> None:
    for label, postgres in backends(suite):
        # One sealed requestState serves the whole section: it must outlive it.
        env = {"DJANGO_SETTINGS_MODULE": "bench.mcp_settings", "MCP_INPUT_STATE_SECONDS": str(86400)}
        server = start(postgres=postgres, env=env)
        try:
            token = server.issue_token("alice", ["mcp:read", "mcp:tools"], lifetime=86400)
            scenarios = [PLAIN, mcp_call(token), typed_call(token), drf_call(token)]
            scenarios += input_required_calls(server, token)
            warm_up(server, scenarios, suite.args.warmup)
            for clients in suite.args.clients:
                runs = suite.args.runs if clients == max(suite.args.clients) else 1
                suite.run_alternating("mcp", label, server, scenarios, clients, runs)
            suite.notes.append(f"{label}: {audit_count(server)} audit records written for the /mcp runs")
        finally:
            server.stop()


class RefreshChains:
    """A load generator (``measure`` signature) that rotates refresh tokens in wrk, one chain per client.

    Every run starts fresh chains (``prepare``, outside the measured window): when wrk stops, a
    request still in flight may have rotated a token whose successor it never read, and reusing that
    chain would be a replay (which revokes it).
    """

    def __init__(self) -> None:
        self.tokens: list[str] = []

    def prepare(self, server: LiveServer, clients: int) -> None:
        with ThreadPoolExecutor(4) as pool:  # password grants cost a PBKDF2 check each
            self.tokens = list(pool.map(lambda _: password_grant(server), range(clients)))

    def __call__(self, server: LiveServer, scenario: Scenario, clients: int, seconds: float) -> dict:
        env = {
            **os.environ,
            "BENCH_REFRESH_TOKENS": ",".join(self.tokens[:clients]),
            "BENCH_CLIENT_ID": "demo-cli",
        }
        command = ["wrk", "-t", str(clients), "-c", str(clients), "-d", f"{max(1, round(seconds))}s"]
        command += ["--timeout", "10s", "-s", str(REFRESH_SCRIPT), server.url + scenario.path]
        output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout  # noqa: S603
        lines = dict(line.split(" ", 1) for line in output.splitlines() if line.startswith("BENCH_"))
        data = json.loads(lines["BENCH_JSON"])
        return run.wrk_figures(data)


class SignedAssertions:
    """A load generator (``measure`` signature) for client_credentials with signed client assertions:
    every request spends a fresh one (a new ``jti``), signed before the measured window (the signing
    is the client's cost, not the server's) and sent by wrk (``assertions.lua``)."""

    CLIENT_ID = "bench-private-key-jwt"

    def __init__(self, workdir: Path) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.workdir, self.key = workdir, ec.generate_private_key(ec.SECP256R1())

    def register(self, server: LiveServer) -> None:
        import jwt

        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        path = self.workdir / "bench-jwks.json"
        path.write_text(json.dumps({"keys": [{**public, "kid": "bench", "use": "sig"}]}))
        server.manage(
            "create_client", "--client-id", self.CLIENT_ID, "--name", "bench private_key_jwt",
            "--grant", "client-credentials", "--scopes", "mcp:read,mcp:tools", "--jwks", str(path),
        )  # fmt: skip

    def sign(self, audience: str, count: int) -> Path:
        import uuid

        import jwt

        now, path = int(time.time()), self.workdir / "bench-assertions.txt"
        claims = {"iss": self.CLIENT_ID, "sub": self.CLIENT_ID, "aud": audience, "iat": now, "exp": now + 240}
        lines = (
            jwt.encode({**claims, "jti": uuid.uuid4().hex}, self.key, algorithm="ES256", headers={"kid": "bench"})
            for _ in range(count)
        )
        path.write_text("\n".join(lines) + "\n")
        return path

    def __call__(self, server: LiveServer, scenario: Scenario, clients: int, seconds: float) -> dict:
        path = self.sign(server.url, int(seconds * ASSERTIONS_PER_SECOND) + clients)
        env = {**os.environ, "BENCH_ASSERTIONS_FILE": str(path), "BENCH_THREADS": str(clients)}
        command = ["wrk", "-t", str(clients), "-c", str(clients), "-d", f"{max(1, round(seconds))}s"]
        command += ["--timeout", "10s", "-s", str(ASSERTIONS_SCRIPT), server.url + scenario.path]
        output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout  # noqa: S603
        lines = dict(line.split(" ", 1) for line in output.splitlines() if line.startswith("BENCH_"))
        return run.wrk_figures(json.loads(lines["BENCH_JSON"]))


def token_exchange(server: LiveServer) -> Scenario:
    """RFC 8693: ``demo-service`` (allowed ``https://files.example/`` by the demo data) exchanges one
    long-lived token of alice's for a token for that API, again and again (a subject token is not spent)."""
    from urllib.parse import urlencode

    subject = server.issue_token("alice", ["mcp:read", "mcp:tools"], lifetime=86400)
    body = urlencode({
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": subject,
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "audience": "https://files.example/",
        "scope": "mcp:read",
    })  # fmt: skip
    return Scenario("tokens: token exchange (RFC 8693)", "POST", "/oauth/token/", body, TOKENS.authorization)


def password_grant(server: LiveServer) -> str:
    import httpx

    response = httpx.post(
        server.url + "/oauth/token/",
        data={
            "grant_type": "password",
            "client_id": "demo-cli",
            "username": "alice",
            "password": "alice-password",
            "scope": "mcp:read mcp:tools",
        },
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["refresh_token"]


def tokens(suite: Suite) -> None:
    for label, postgres in backends(suite):
        server = start(postgres=postgres)
        try:
            chains = RefreshChains()
            signed = SignedAssertions(server.workdir)
            signed.register(server)
            exchange = token_exchange(server)
            warm_up(server, [TOKENS], suite.args.warmup)
            for clients in suite.args.clients:
                suite.run("tokens", label, server, TOKENS, clients)
                chains.prepare(server, clients)
                suite.run("tokens", label, server, REFRESH, clients, generator=chains)
                suite.run("tokens", label, server, ASSERTIONS, clients, generator=signed)
                suite.run("tokens", label, server, exchange, clients)
        finally:
            server.stop()


def growth(suite: Suite) -> None:
    label, postgres = backends(suite)[-1]  # the production back end when it is there
    # Pages of GROWTH_PAGE_SIZE tools: the empty registry has only a few built-in tools, so with the
    # default page size the grown registry's first page would be ten times longer (a bigger answer,
    # not a slower lookup); with equal pages the comparison isolates the registry's size.
    server = start(postgres=postgres, env={"MCP_PAGE_SIZE": str(GROWTH_PAGE_SIZE)})
    try:
        token = server.issue_token("alice", ["mcp:read", "mcp:tools"], lifetime=86400)
        listing = mcp_call(token, "tools/list", {}, f"/mcp tools/list (first page of {GROWTH_PAGE_SIZE})")
        scenarios = [PLAIN, mcp_call(token), listing]  # the plain view: a control for the machine's speed
        warm_up(server, scenarios, suite.args.warmup)
        for scenario in scenarios:
            suite.run("growth", f"{label}: empty", server, scenario, 64)
        started = time.monotonic()
        output = server.manage(
            "shell", "-c", "from bench import growth; growth.grow()", timeout=3600
        ).stdout.strip()
        suite.notes.append(
            f"growth rows written in {time.monotonic() - started:.0f} s: "
            + "; ".join(output.splitlines()[-3:])
        )
        server.restart(DJANGO_SETTINGS_MODULE="bench.settings")
        warm_up(server, scenarios, suite.args.warmup)
        grown = f"{label}: 100k users, 1M tokens, 100k revoked, 1,000 more tools"
        for scenario in scenarios:
            suite.run("growth", grown, server, scenario, 64)
    finally:
        server.stop()


def dpop(suite: Suite) -> None:
    """Bearer and DPoP-bound ``echo`` calls, both from ``run_python`` (wrk cannot sign a proof per request)."""
    from functools import partial

    import httpx

    from tests.dpopclient import DpopKey

    for label, postgres in backends(suite):
        server = start(postgres=postgres)
        try:
            key, token_url, mcp_url = DpopKey("ES256"), server.url + "/oauth/token/", server.mcp_url
            issued = httpx.post(
                token_url,
                data={"grant_type": "client_credentials", "scope": "mcp:read mcp:tools"},
                auth=("demo-service", "demo-service-secret"),
                headers={"DPoP": key.proof("POST", token_url)},
                timeout=30,
            ).json()
            bound = issued["access_token"]
            bearer = mcp_call(
                server.issue_token("alice", ["mcp:read", "mcp:tools"], lifetime=86400),
                label="/mcp tools/call echo, Bearer",
            )
            label_ = "/mcp tools/call echo, DPoP-bound (a proof per request)"
            dpop_call = replace(mcp_call(bound, label=label_), authorization=f"DPoP {bound}")
            proofs = partial(run.run_python, per_request=lambda: {"DPoP": key.proof("POST", mcp_url, bound)})
            for clients in suite.args.clients:
                suite.run("dpop", label, server, bearer, clients, generator=run.run_python)
                suite.run("dpop", label, server, dpop_call, clients, generator=proofs)
        finally:
            server.stop()


TASKS_CAPABILITIES = {"extensions": {"io.modelcontextprotocol/tasks": {}}}


def modern_scenario(label: str, token: str, method: str, params: dict, name: str) -> Scenario:
    """A 2026-07-28 request of a client that takes tasks, with its mirrored headers."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": TASKS_CAPABILITIES,
    }
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}})
    headers = (
        ("Accept", "application/json, text/event-stream"),
        ("MCP-Protocol-Version", MODERN),
        ("Mcp-Method", method),
        ("Mcp-Name", name),
    )
    return Scenario(label, "POST", "/mcp", body, f"Bearer {token}", "application/json", headers)


def task_calls(server: LiveServer, token: str) -> list[Scenario]:
    """Creating a task (tools/call ``long_task`` answered with a handle: a row and a queued job per request,
    committed before the answer) and polling one (tasks/get of a task created here, finished by the worker)."""
    import httpx

    create = modern_scenario(
        "/mcp tasks: create (tools/call long_task)",
        token,
        "tools/call",
        {"name": "long_task", "arguments": {"steps": 1, "interval_ms": 0}},
        "long_task",
    )
    headers = {"Authorization": create.authorization, **dict(create.headers)}
    created = httpx.post(server.url + "/mcp", content=create.body, headers=headers, timeout=30).json()
    task_id = created["result"]["taskId"]
    poll = modern_scenario("/mcp tasks: poll (tasks/get)", token, "tasks/get", {"taskId": task_id}, task_id)
    return [create, poll]


def tasks(suite: Suite) -> None:
    """Task creation and polling, with a task worker beside the server (as ``dev.py serve`` runs one)."""
    for label, postgres in backends(suite):
        server = start(postgres=postgres, task_worker=True, env={"MCP_TASK_RETENTION_SECONDS": str(86400)})
        try:
            token = server.issue_token("alice", ["mcp:read", "mcp:tools"], lifetime=86400)
            scenarios = task_calls(server, token)
            warm_up(server, scenarios, suite.args.warmup)
            for clients in suite.args.clients:
                for scenario in scenarios:
                    suite.run("tasks", label, server, scenario, clients)
        finally:
            server.stop()


def audit_count(server: LiveServer) -> str:
    code = "from mcpserver.models import AuditRecord as A; print(A.objects.count())"
    lines = server.manage("shell", "-c", code, check=False).stdout.strip().splitlines()
    return lines[-1] if lines else "unknown"


SECTIONS = {
    "serving": serving, "mcp": mcp, "tokens": tokens, "dpop": dpop, "growth": growth, "tasks": tasks,
}  # fmt: skip


# --- the command ---


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help="comma-separated: " + ", ".join(SECTIONS)
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per run (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per scenario (default 2)")
    parser.add_argument("--clients", type=lambda s: [int(c) for c in s.split(",")], default=[1, 16, 64])
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        help="runs of the /mcp section's pair at the highest client count, median reported (default 3)",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=60, help="wait up to this long for an idle machine"
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL + Redis")
    parser.add_argument(
        "--publish", action="store_true", help="also write bench/REPORT.md and bench/latency.png"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (apt-get install wrk)")
    suite = Suite(args)
    started = datetime.now(UTC)
    for name in args.sections.split(","):
        print(f"section {name}", file=sys.stderr, flush=True)
        SECTIONS[name](suite)
    from report import markdown, plot  # bench/report.py (matplotlib is imported only here)

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = f"{started:%Y%m%dT%H%M%SZ}"
    png = RESULTS / f"latency-{stamp}.png"
    plot(suite.rows, png)
    text = markdown(suite, started, png.name)
    path = RESULTS / f"report-{stamp}.md"
    path.write_text(text)
    if args.publish:
        shutil.copy(png, ROOT / "bench" / "latency.png")
        (ROOT / "bench" / "REPORT.md").write_text(text.replace(png.name, "latency.png"))
    print(text)
    print(f"(written to {path.relative_to(ROOT)} and {png.relative_to(ROOT)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

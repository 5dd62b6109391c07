"""Token endpoint benchmark: client_credentials tokens/s and latency through the production server.

    .venv/bin/python bench/run.py
    .venv/bin/python bench/run.py --database-url postgres://postgres@127.0.0.1:5432/mcp_bench \\
        --redis-url redis://127.0.0.1:6379/13
    .venv/bin/python bench/run.py --duration 5 --clients 1,16,64 --profile always --env DB_CONN_MAX_AGE=60

(The whole suite, /mcp included, is bench/suite.py; this is the token endpoint alone, with profiling.)

It starts the serving command of ``dev.py serve`` (``dev.serving_command``: granian by default,
``--server gthread`` or ``sync`` for gunicorn; ``--workers`` 2, ``--threads`` ``dev.DEFAULT_THREADS``)
on a free loopback port with a fresh database (a temporary SQLite file by default; the PostgreSQL
database named by ``--database-url`` is created and dropped), migrates it and seeds the demo data.
Then, at each concurrency, it measures for ``--duration`` seconds:

- baseline: ``GET /.well-known/jwks.json`` served by the same server (a cheap view: the cost of
  Django + the server + loopback, against which the token endpoint's own cost shows);
- tokens: ``POST /oauth/token/`` with ``grant_type=client_credentials`` and HTTP Basic client
  authentication (demo-service): hashed secret check, RS256 JWT, database writes.

Load comes from ``wrk`` (Debian package; a Lua script adds the POST and prints p50/p95/p99) when it
is installed, otherwise from a Python thread pool. Server CPU per request and resident memory are
read from /proc. When the token rate misses the target (``--profile auto``, the default) or with
``--profile always``, the report adds where a token's time goes: bench/profile_token.py (cProfile of
the token path in one process, on the same kind of database) and, when py-spy is installed
(``.venv/bin/pip install py-spy``), samples of the live workers during an extra token run.

The Markdown report is printed and written to bench/results/ (git-ignored). Before each run it waits
(``--quiet-wait``) for the machine to be idle, and it reports the CPU used by every process, since
other work on the same machine lowers the figures. The per-client token flood limit is raised for
the run (TOKEN_RATE_LIMIT), as a benchmark is a flood.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.liveserver import LiveServer  # noqa: E402  (the e2e suite's server process)
import dev  # noqa: E402

RESULTS = ROOT / "bench" / "results"
WRK_SCRIPT = ROOT / "bench" / "wrk.lua"
TARGET_TOKENS_PER_SECOND = 600
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    body: str = ""
    authorization: str = ""
    content_type: str = "application/x-www-form-urlencoded"
    headers: tuple[tuple[str, str], ...] = ()


BASELINE = Scenario("baseline: GET /.well-known/jwks.json", "GET", "/.well-known/jwks.json")
TOKENS = Scenario(
    "tokens: POST /oauth/token/ client_credentials",
    "POST",
    "/oauth/token/",
    "grant_type=client_credentials",
    "Basic " + base64.b64encode(b"demo-service:demo-service-secret").decode(),
)


@dataclass
class Result:
    scenario: Scenario
    clients: int
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    cpu_seconds: float
    rss_mib: float
    machine_busy: float
    cores: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Open connections per worker halfway through the run, most first: how the clients' keep-alive
    # connections were split between the workers when they were accepted (a worker holding more of
    # them queues its requests longer, which shows in the tail).
    connections: list[int] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / self.requests if self.requests else 0.0


# --- measuring the server ---


def server_cpu_seconds(server: LiveServer) -> float:
    """User + system CPU time of the server's main process and workers so far."""
    total = 0
    for pid in [server.pid, *server.worker_pids()]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLOCK_TICKS


def machine_cpu() -> tuple[int, int]:
    """Busy and total jiffies of all CPUs together (/proc/stat), iowait counted as idle."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def process_cpu(server: LiveServer) -> dict[int, tuple[str, int]]:
    """CPU jiffies so far of every process, each labelled server, postgres, redis, wrk or other."""
    ours = {server.pid, *server.worker_pids()}
    snapshot = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        pid, comm = int(stat.parent.name), head.split("(", 1)[1]
        fields = tail.split()
        label = (
            "server"
            if pid in ours
            else next((name for name in ("postgres", "redis", "wrk") if comm.startswith(name)), "other")
        )
        snapshot[pid] = (label, int(fields[11]) + int(fields[12]))
    return snapshot


def cpu_by_label(before: dict, after: dict, seconds: float, workers: list[int]) -> dict[str, float]:
    """Cores used per label between two ``process_cpu`` snapshots (processes alive at both), and
    per server worker (``worker-<pid>``), which shows how evenly the workers share the load."""
    cores: dict[str, float] = {}
    for pid, (label, jiffies) in after.items():
        if pid in before:
            used = (jiffies - before[pid][1]) / CLOCK_TICKS / seconds
            cores[label] = cores.get(label, 0) + used
            if pid in workers:
                cores[f"worker-{pid}"] = used
    return cores


def server_rss_mib(server: LiveServer) -> float:
    return sum(server.rss_bytes().values()) / 2**20


# --- load generators ---


def run_wrk(server: LiveServer, scenario: Scenario, clients: int, seconds: float) -> dict:
    env = {
        **os.environ,
        "BENCH_METHOD": scenario.method,
        "BENCH_BODY": scenario.body,
        "BENCH_AUTH": scenario.authorization,
        "BENCH_TYPE": scenario.content_type,
        "BENCH_HEADERS": "\n".join(f"{name}: {value}" for name, value in scenario.headers),
    }
    threads = 1 if clients < 16 else 2
    command = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(clients),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        server.url + scenario.path,
    ]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout  # noqa: S603
    line = next(line for line in output.splitlines() if line.startswith("BENCH_JSON "))
    return wrk_figures(json.loads(line.removeprefix("BENCH_JSON ")))


def wrk_figures(data: dict) -> dict:
    """Requests, seconds, percentiles (ms) and errors from the JSON line our wrk scripts print."""
    return {
        "requests": data["requests"],
        "seconds": data["duration_us"] / 1e6,
        "p50_ms": data["p50_us"] / 1000,
        "p95_ms": data["p95_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "errors": sum(
            data[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
        ),
    }


def run_python(
    server: LiveServer, scenario: Scenario, clients: int, seconds: float, per_request=None
) -> dict:
    """A closed-loop thread-pool load generator, for machines without wrk (it competes for the GIL).

    ``per_request``: a callable returning headers made afresh for each request (a DPoP proof).
    """
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    headers = {"Authorization": scenario.authorization} if scenario.authorization else {}
    headers.update(scenario.headers)
    if scenario.body:
        headers["Content-Type"] = scenario.content_type
    start = time.perf_counter()
    deadline = start + seconds

    def client(index: int) -> None:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    fresh = headers if per_request is None else {**headers, **per_request()}
                    response = http.request(
                        scenario.method, scenario.path, content=scenario.body or None, headers=fresh
                    )
                    ok = response.status_code < 400
                except httpx.HTTPError:
                    ok = False
                latencies[index].append(time.perf_counter() - began)
                errors[index] += not ok

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    samples = sorted(value for values in latencies for value in values)
    cuts = statistics.quantiles(samples, n=100, method="inclusive") if len(samples) > 1 else samples * 99
    return {
        "requests": len(samples),
        "seconds": elapsed,
        "p50_ms": cuts[49] * 1000,
        "p95_ms": cuts[94] * 1000,
        "p99_ms": cuts[98] * 1000,
        "errors": sum(errors),
    }


def wait_for_quiet(limit: float, threshold: float = 0.15) -> float:
    """Wait (up to ``limit`` seconds) until the machine is nearly idle; return the last busy share.

    The machine may be shared (other test runs): measuring while it is busy understates the server.
    """
    deadline = time.monotonic() + limit
    while True:
        busy_before, total_before = machine_cpu()
        time.sleep(1)
        busy, total = machine_cpu()
        share = (busy - busy_before) / max(1, total - total_before)
        if share < threshold or time.monotonic() >= deadline:
            return share
        print(
            f"    machine {100 * share:.0f}% busy before the run; waiting for it to settle ...",
            file=sys.stderr,
            flush=True,
        )


def measure(
    server: LiveServer, scenario: Scenario, clients: int, seconds: float, generator, quiet_wait: float = 0
) -> Result:
    idle_share = wait_for_quiet(quiet_wait) if quiet_wait else None
    cpu_before, (busy_before, total_before) = server_cpu_seconds(server), machine_cpu()
    processes_before, started = process_cpu(server), time.monotonic()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    split: list[int] = []
    sampler = threading.Timer(seconds / 2, lambda: split.extend(connections_per_worker(server)))
    sampler.start()
    figures = generator(server, scenario, clients, seconds)
    sampler.cancel()
    elapsed = time.monotonic() - started
    cores = cpu_by_label(processes_before, process_cpu(server), elapsed, server.worker_pids())
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if getattr(generator, "func", generator) is not run_python:  # wrk has exited by now: its CPU shows in our children's usage
        cores["wrk"] = (
            children.ru_utime + children.ru_stime - children_before.ru_utime - children_before.ru_stime
        ) / elapsed
    cpu = server_cpu_seconds(server) - cpu_before
    busy, total = machine_cpu()
    machine_busy = (busy - busy_before) / max(1, total - total_before)
    # "other": whatever kept the machine busy besides the labelled processes (short-lived
    # processes, other people's runs, the kernel's loopback networking).
    labelled = sum(cores.get(k, 0) for k in ("server", "postgres", "redis", "wrk"))
    cores["other"] = max(0.0, machine_busy * (os.cpu_count() or 1) - labelled)
    result = Result(
        scenario,
        clients,
        cpu_seconds=cpu,
        rss_mib=server_rss_mib(server),
        machine_busy=machine_busy,
        cores=cores,
        connections=split,
        **figures,
    )
    if idle_share is not None and idle_share >= 0.15:
        result.notes.append(f"machine was {100 * idle_share:.0f}% busy before this run")
    return result


def connections_per_worker(server: LiveServer) -> list[int]:
    """Established connections on the server's port per worker process (``ss``), most first."""
    try:
        out = subprocess.run(  # noqa: S603
            ["ss", "-tnpH", "state", "established", f"( sport = :{server.port} )"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    counts = {pid: out.count(f"pid={pid},") for pid in server.worker_pids()}
    return sorted((n for n in counts.values() if n), reverse=True)


# --- profiling ---


def profile_token_path(server: LiveServer, seconds: float, generator, clients: int) -> str:
    """Sample every worker with py-spy while tokens are requested; return the hottest frames.

    Only threads holding the GIL are sampled (``--gil``), so the shares are of Python CPU time, not
    of time spent waiting for the database lock, the GIL or the network.
    """
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        return "py-spy is not installed (`.venv/bin/pip install py-spy`); no profile taken."
    RESULTS.mkdir(parents=True, exist_ok=True)
    outputs, samplers = [], []
    for pid in server.worker_pids():
        out = RESULTS / f"profile-{pid}.txt"
        outputs.append(out)
        samplers.append(
            subprocess.Popen(  # noqa: S603
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(int(seconds)),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--gil",
                    "--output",
                    str(out),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    time.sleep(0.5)
    generator(server, TOKENS, clients, seconds)
    for sampler in samplers:
        sampler.wait(timeout=seconds + 30)
    return summarize_profiles([out for out in outputs if out.exists()])


GENERIC = (
    "threading.py:",
    "concurrent/futures/",
    "gunicorn/arbiter.py",
    "gunicorn/app/",
    "<frozen runpy>",
    "gunicorn/__main__.py",
    "granian/",
    "django/utils/decorators.py",
    "django/views/decorators/",
    "selectors.py",
)


def suffixed(url: str, suffix: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path + suffix))


def profile_in_process(args) -> str:
    """bench/profile_token.py (cProfile of the token view in one process) on the same kind of database."""
    command = [
        sys.executable,
        str(ROOT / "bench" / "profile_token.py"),
        "--requests",
        "300",
        *(["--database-url", suffixed(args.database_url, "_profile")] if args.database_url else []),
        *(["--redis-url", args.redis_url] if args.redis_url else []),
        *[f"--env={item}" for item in args.env],
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)  # noqa: S603
    return (
        result.stdout.strip()
        if result.returncode == 0
        else f"profile_token.py failed:\n\n    {result.stderr[-2000:]}"
    )


def summarize_profiles(paths: list[Path], top: int = 30) -> str:
    """Two tables from py-spy's collapsed stacks: inclusive share per frame (generic wrappers left
    out) and self share per leaf frame, both as a share of all GIL-holding samples."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            frames = [_frame_name(frame) for frame in stack.split(";")]
            total += int(count)
            own[frames[-1]] = own.get(frames[-1], 0) + int(count)
            for frame in set(frames):
                inclusive[frame] = inclusive.get(frame, 0) + int(count)
    if not total:
        return "py-spy recorded no samples."
    shown = [
        (f, c) for f, c in sorted(inclusive.items(), key=lambda item: -item[1]) if not f.startswith(GENERIC)
    ][:top]
    lines = [
        f"{total} samples. Inclusive (a frame and everything it calls):",
        "",
        "| share | frame |",
        "| ---: | --- |",
    ]
    lines += [f"| {100 * count / total:.1f}% | `{frame}` |" for frame, count in shown]
    lines += [
        "",
        "Self (the frame itself, at the top of the stack):",
        "",
        "| share | frame |",
        "| ---: | --- |",
    ]
    lines += [
        f"| {100 * count / total:.1f}% | `{frame}` |"
        for frame, count in sorted(own.items(), key=lambda item: -item[1])[:15]
    ]
    return "\n".join(lines)


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"; keep the line for self time.
    function, _, location = frame.partition(" (")
    location = location.rstrip(")")
    for marker in ("site-packages/", str(ROOT) + "/", "lib/python3."):
        location = location.split(marker, 1)[-1]
    if location[:3].isdigit() or location[:2].isdigit():  # "11/threading.py" left by "lib/python3."
        location = location.split("/", 1)[-1]
    return f"{location.rsplit(':', 1)[0]}:{function}"


# --- the report ---


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()}"


def commit() -> str:
    git = shutil.which("git") or "git"
    result = subprocess.run([git, "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)  # noqa: S603
    dirty = subprocess.run(  # noqa: S603
        [git, "status", "--porcelain", "authserver", "config"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return result.stdout.strip() + (" (authserver/config modified)" if dirty else "")


def report(
    args,
    server: LiveServer,
    generator_name: str,
    results: list[Result],
    tokens_written: str,
    rss: dict,
    profile: str | None,
) -> str:
    best = max((r.per_second for r in results if r.scenario is TOKENS), default=0)
    verdict = "meets" if best >= TARGET_TOKENS_PER_SECOND else "misses"
    lines = [
        "# Token endpoint benchmark",
        "",
        f"- when: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}, commit {commit()}",
        f"- machine: {machine()}",
        f"- server: {server.server} `config.wsgi`, {args.workers} workers x {args.threads} threads, "
        f"access log {'on' if not args.no_access_log else 'off'}, loopback",
        f"- database: {server.database_engine} (fresh{', WAL' if server.database_engine == 'sqlite' else ''})"
        f"; cache: {'Redis' if args.redis_url else 'database cache'}"
        + (f"; extra environment: {', '.join(args.env)}" if args.env else ""),
        f"- load: {generator_name}, closed loop (keep-alive), {args.duration:g} s per run after a "
        f"{args.warmup:g} s warm-up, on the same 2-core machine as the server",
        f"- best client_credentials rate: **{best:.0f} tokens/s** — {verdict} the target of "
        f"{TARGET_TOKENS_PER_SECOND} tokens/s",
        "",
        "| clients | endpoint | requests/s | p50 ms | p95 ms | p99 ms | errors | server CPU ms/request "
        "| machine CPU busy | cores used: server (per worker) / postgres / redis / wrk / other |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.clients} | {r.scenario.name} | {r.per_second:.0f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | "
            f"{r.p99_ms:.1f} | {r.errors} | {r.cpu_ms_per_request:.2f} | {100 * r.machine_busy:.0f}% | "
            f"{cores_cell(r.cores)} |"
        )
    for r in results:
        for note in r.notes:
            lines.append(f"\n- note ({r.clients} clients, {r.scenario.name.split(':')[0]}): {note}")
    lines += ["", "Tokens relative to the baseline at the same concurrency:", ""]
    for clients in args.clients:
        pair = {r.scenario.name: r for r in results if r.clients == clients}
        base, tok = pair.get(BASELINE.name), pair.get(TOKENS.name)
        if base and tok and tok.per_second:
            lines.append(
                f"- {clients} clients: {tok.per_second / base.per_second:.2f}x the baseline's rate; "
                f"{tok.cpu_ms_per_request - base.cpu_ms_per_request:.2f} ms more server CPU per request"
            )
    lines += [
        "",
        "Server CPU counts the gunicorn master and workers only (not PostgreSQL, Redis or wrk); machine CPU "
        "busy is all processes on both cores, so 100% means the machine, not the server, is the limit. "
        '"other" is everything else on the machine (other people\'s test runs included): figures taken while '
        "it is high understate the server.",
        "",
        f"Access tokens stored in the database after the run: {tokens_written}.",
        "",
        "Server resident memory (MiB):",
        "",
        "| when | master | workers | total |",
        "| --- | ---: | ---: | ---: |",
    ]
    for when, sizes in rss.items():
        lines.append(
            f"| {when} | {sizes['master']:.1f} | {', '.join(f'{w:.1f}' for w in sizes['workers'])} | "
            f"{sizes['total']:.1f} |"
        )
    if profile:
        lines += ["", profile]
    return "\n".join(lines) + "\n"


def cores_cell(cores: dict[str, float]) -> str:
    workers = "+".join(f"{v:.2f}" for k, v in sorted(cores.items()) if k.startswith("worker-"))
    rest = " / ".join(f"{cores.get(k, 0):.2f}" for k in ("postgres", "redis", "wrk", "other"))
    return f"{cores.get('server', 0):.2f} ({workers}) / {rest}"


def rss_snapshot(server: LiveServer) -> dict:
    sizes = server.rss_bytes()
    master = sizes.pop(server.pid, 0) / 2**20
    workers = [size / 2**20 for size in sizes.values()]
    return {"master": master, "workers": workers, "total": master + sum(workers)}


def count_access_tokens(server: LiveServer) -> str:
    code = "from oauth2_provider.models import AccessToken as T; print(T.objects.count())"
    result = server.manage("shell", "-c", code, check=False)
    lines = result.stdout.strip().splitlines()  # the shell may first announce its automatic imports
    return lines[-1] if result.returncode == 0 and lines else "unknown"


# --- the command ---


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per run (default 10)")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up load (default 3)")
    parser.add_argument("--clients", type=lambda s: [int(c) for c in s.split(",")], default=[1, 16, 64])
    parser.add_argument("--database-url", help="a PostgreSQL URL whose database is created and dropped")
    parser.add_argument("--redis-url", help="use Redis as the cache (e.g. redis://127.0.0.1:6379/13)")
    parser.add_argument("--server", choices=["granian", "gthread", "sync"], help="default: granian")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=dev.DEFAULT_THREADS)
    parser.add_argument("--no-access-log", action="store_true", help="serve without the JSON access log")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra server environment variable (repeatable), e.g. DB_CONN_MAX_AGE=60",
    )
    parser.add_argument("--load-generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60,
        help="wait up to this many seconds before each run for the machine to be idle (default 60)",
    )
    parser.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="profile the token path: when the target is missed (auto, default), always or never",
    )
    parser.add_argument("--profile-clients", type=int, default=16)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    use_wrk = args.load_generator == "wrk" or (args.load_generator == "auto" and shutil.which("wrk"))
    generator, generator_name = (run_wrk, "wrk") if use_wrk else (run_python, "Python thread pool (httpx)")
    server = LiveServer(
        database_url=args.database_url,
        redis_url=args.redis_url,
        workers=args.workers,
        threads=args.threads,
        server=args.server,
        env={
            "TOKEN_RATE_LIMIT": str(10**9),
            "MCP_MAX_INFLIGHT_PER_CALLER": "0",  # one token for every client: see bench/suite.py
            **dict(item.split("=", 1) for item in args.env),
        },
        access_log=not args.no_access_log,
    )
    print(f"starting the server ({server.database_engine}) ...", file=sys.stderr, flush=True)
    server.start()
    try:
        rss = {"idle after start": rss_snapshot(server)}
        generator(server, BASELINE, 16, args.warmup)
        generator(server, TOKENS, 16, args.warmup)
        rss["after warm-up"] = rss_snapshot(server)
        results = []
        for clients in args.clients:
            for scenario in (BASELINE, TOKENS):
                print(f"{clients:>3} clients: {scenario.name} ...", file=sys.stderr, flush=True)
                results.append(measure(server, scenario, clients, args.duration, generator, args.quiet_wait))
        rss["after the runs"] = rss_snapshot(server)
        profile = None
        best = max(r.per_second for r in results if r.scenario is TOKENS)
        if args.profile == "always" or (args.profile == "auto" and best < TARGET_TOKENS_PER_SECOND):
            print("profiling the token path ...", file=sys.stderr, flush=True)
            profile = profile_in_process(args) + "\n\n## Inside the live workers (py-spy, GIL holders)\n\n"
            profile += profile_token_path(server, args.duration, generator, args.profile_clients)
        errors = server.errors_since(0)
        text = report(args, server, generator_name, results, count_access_tokens(server), rss, profile)
        if errors:
            text += (
                "\nServer errors logged during the run (first 10):\n\n"
                + "\n".join(f"    {line}" for line in errors[:10])
                + "\n"
            )
    finally:
        server.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"tokens-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{server.database_engine}.md"
    path.write_text(text)
    print(text)
    print(f"(written to {path.relative_to(ROOT)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

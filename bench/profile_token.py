"""Where a client_credentials token's CPU time goes: the token view profiled in-process with cProfile.

    .venv/bin/python bench/profile_token.py [--requests 400] [--database-url postgres://...] [--redis-url ...]

It prepares a fresh database exactly as the live server does (migrate, cache table, demo data),
then sends ``--requests`` token requests through Django's full handler (middleware, view, DOT,
database writes; no WSGI server, no network) in one thread, each environ built on the process
environment as granian builds it (``--bare-environ``: the request's own keys only), and prints a
Markdown section: wall and CPU time per token (best of five rounds: on a shared machine the quietest
round is the truest), Python function calls per token (steady when timings are not), SQL statements
per token, the cost of named steps of the token path (cProfile cumulative time per call) and the top
functions by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.liveserver import LiveServer  # noqa: E402

BASIC = "Basic ZGVtby1zZXJ2aWNlOmRlbW8tc2VydmljZS1zZWNyZXQ="  # demo-service:demo-service-secret
# (label, file suffix, function name): steps of the client_credentials path worth naming.
STEPS = [
    ("whole request through Django's WSGI handler", "bench/profile_token.py", "token"),
    ("authserver TokenView.post (flood limit + DOT)", "authserver/views/tokens.py", "post"),
    ("per-client flood counter (shared cache)", "authserver/throttle.py", "token_requests_exceeded"),
    (
        "client authentication (load client, check secret)",
        "oauth2_provider/oauth2_validators.py",
        "authenticate_client",
    ),
    ("secret hash check", "django/contrib/auth/hashers.py", "check_password"),
    ("scope narrowing (validate_scopes)", "authserver/validators.py", "validate_scopes"),
    (
        "RFC 8707 audience (settle_token_audience)",
        "authserver/resource_indicators.py",
        "settle_token_audience",
    ),
    ("JWT claims + RS256 signature (generate_access_token)", "authserver/tokens.py", "generate_access_token"),
    ("  current signing key lookup", "authserver/keys.py", "current_signing_key"),
    ("  jwt.encode (RS256)", "jwt/api_jwt.py", "encode"),
    (
        "saving the token (save_bearer_token: DOT's, or authserver's without a transaction)",
        "validators.py",
        "save_bearer_token",
    ),
    ("opening database connections", "django/db/backends/base/base.py", "connect"),
    ("closing database connections (request_finished)", "django/db/__init__.py", "close_old_connections"),
    ("SQL execution (all queries)", "django/db/backends/utils.py", "_execute"),
    ("signals (request_started/finished: connection close)", "django/dispatch/dispatcher.py", "send"),
]


def step_costs(stats: pstats.Stats, requests: int) -> list[tuple[str, float, int]]:
    """(label, ms per token, calls per token) for each named step, from cProfile's cumulative times."""
    rows = []
    for label, suffix, name in STEPS:
        total, calls = 0.0, 0
        for (filename, _, function), (_, ncalls, _, cumulative, _) in stats.stats.items():
            if function == name and filename.endswith(suffix):
                total, calls = max(total, cumulative), max(calls, ncalls)
        rows.append((label, 1000 * total / requests, calls / requests))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument(
        "--bare-environ",
        action="store_true",
        help="only the request's own WSGI keys (granian, the default server, adds the process environment)",
    )
    args = parser.parse_args(argv)

    server = LiveServer(
        database_url=args.database_url,
        redis_url=args.redis_url,
        env={"TOKEN_RATE_LIMIT": str(10**9), **dict(item.split("=", 1) for item in args.env)},
    )
    server.prepare()
    try:
        os.environ.update(server.env, DJANGO_SETTINGS_MODULE="config.settings")
        import django

        django.setup()
        print(profile(server, args.requests, process_environ=not args.bare_environ))
    finally:
        from django.db import connections

        connections.close_all()
        server.stop()
    return 0


def profile(server: LiveServer, requests: int, process_environ: bool = True) -> str:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from config.wsgi import application  # what the WSGI server calls: config.wsgi's adaptations, Django's handler
    from tests.helpers import call_wsgi, granian_environ

    body = b"grant_type=client_credentials"
    form = "application/x-www-form-urlencoded"
    base = dict(os.environ) if process_environ else {}  # granian copies the process environment in

    def token() -> None:
        environ = granian_environ(
            "POST", "/oauth/token/", body, form, {"Authorization": BASIC}, "127.0.0.1", server.port, base
        )
        status, _ = call_wsgi(application, environ)
        assert status.startswith("200"), status

    for _ in range(20):  # warm-up: key parsing, first connections, imports
        token()
    with CaptureQueriesContext(connection) as queries:
        token()
    query_lines = [q["sql"][:150] for q in queries.captured_queries]

    # Five rounds: on a shared machine the quietest round (the lowest figure) is the truest one.
    rounds, walls, cpus = 5, [], []
    per_round = max(1, requests // rounds)
    for _ in range(rounds):
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(per_round):
            token()
        walls.append(1000 * (time.perf_counter() - started) / per_round)
        # This process's CPU only: a database server's own work (PostgreSQL) and waits are not in it.
        cpus.append(1000 * (time.process_time() - cpu_started) / per_round)
    plain_ms, cpu_ms = min(walls), min(cpus)
    environ_note = f"the process environment ({len(base)} variables, as granian passes it) + " if base else ""
    spread = (
        f"best of {rounds} rounds of {per_round}; "
        f"median {statistics.median(walls):.2f} ms wall, {statistics.median(cpus):.2f} ms CPU"
    )

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        token()
    profiler.disable()
    stats = pstats.Stats(profiler)

    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
    top = "\n".join(line for line in out.getvalue().splitlines() if line.strip())
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
    own = "\n".join(line for line in out.getvalue().splitlines() if line.strip())

    lines = [
        f"## Where a token's time goes (in-process, one thread, {server.database_engine}, "
        f"{'Redis' if server.redis_url else 'database'} cache)",
        "",
        f"- {plain_ms:.2f} ms of wall time per token without the profiler ({spread}; requests through "
        "Django's WSGI handler, as the WSGI server calls it: middleware, view, DOT, database; no server or "
        f"network); one core would give at most {1000 / plain_ms:.0f} tokens/s, two {2000 / plain_ms:.0f}",
        f"- {cpu_ms:.2f} ms of this process's CPU time per token (the database server's own work excluded)",
        f"- {stats.total_calls / requests:.0f} Python function calls per token (cProfile; steady where "
        "timings on a busy machine are not)",
        f"- WSGI environ: {environ_note}the request's own keys",
        f"- {len(query_lines)} SQL statements per token:",
        "",
        *[f"    {i + 1:>2}. {sql}" for i, sql in enumerate(query_lines)],
        "",
        "| step (cProfile cumulative, with profiler overhead) | ms per token | calls per token |",
        "| --- | ---: | ---: |",
        *[f"| {label} | {ms:.3f} | {calls:.1f} |" for label, ms, calls in step_costs(stats, requests)],
        "",
        "<details><summary>cProfile, top 45 by cumulative time</summary>",
        "",
        "```",
        top,
        "```",
        "</details>",
        "",
        "<details><summary>cProfile, top 30 by own time</summary>",
        "",
        "```",
        own,
        "```",
        "</details>",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

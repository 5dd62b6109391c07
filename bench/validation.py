"""Argument validation's cost in-process: ``echo`` (hand-written schema, the jsonschema validator) next to
``typed_echo`` (the same schema inferred from type hints, the pydantic model) and ``drf_echo`` (the same
fields in a DRF serializer, ``bench/drf_echo.py``), one thread, no server.

    .venv/bin/python bench/validation.py [--requests 2000] [--rounds 7]

A fresh database is prepared as the live server prepares one (``bench.mcp_settings``), then the three
tools/call requests alternate in rounds through Django's full WSGI handler (token check, audit,
middleware); the best round of each is reported (a shared machine's quietest round is its truest),
with the validators' own cost per call measured apart from the request.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.liveserver import LiveServer  # noqa: E402

ARGUMENTS = {"message": "hello", "repeat_count": 2}
TOOLS = {"echo": "jsonschema", "typed_echo": "pydantic", "drf_echo": "DRF serializer"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per tool per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    env = {"DJANGO_SETTINGS_MODULE": "bench.mcp_settings", "MCP_MAX_INFLIGHT_PER_CALLER": "0"}
    server = LiveServer(env=env)
    server.prepare()
    try:
        token = server.issue_token("alice", ["mcp:read", "mcp:tools"], lifetime=86400)
        os.environ.update(server.env)
        import django

        django.setup()
        print(measure(server, token, args.requests, args.rounds))
    finally:
        from django.db import connections

        connections.close_all()
        server.stop()
    return 0


def measure(server: LiveServer, token: str, requests: int, rounds: int) -> str:
    from config.wsgi import application
    from tests.helpers import call_wsgi, granian_environ

    base = dict(os.environ)

    def caller(name: str):
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": name, "arguments": ARGUMENTS},
            }
        ).encode()
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-11-25",
        }

        def call() -> None:
            environ = granian_environ(
                "POST", "/mcp", body, "application/json", headers, "127.0.0.1", server.port, base
            )
            status, answer = call_wsgi(application, environ)
            assert status.startswith("200") and b'"isError"' not in answer, answer

        return call

    calls = {name: caller(name) for name in TOOLS}
    for call in calls.values():  # warm-up: keys, connections, first imports
        for _ in range(200):
            call()
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            for _ in range(requests):
                call()
            best[name] = min(best[name], (time.perf_counter() - started) / requests * 1e6)
    echo_us = best["echo"]
    lines = [f"tools/call in-process (best of {rounds} rounds of {requests}, one thread):"]
    for name, validator in TOOLS.items():
        us = best[name]
        share = "" if name == "echo" else f"; {echo_us / us:.1%} of echo's rate (the target: at least 85%)"
        lines.append(f"- {name} ({validator}): {us:.1f} us per request, {1e6 / us:,.0f} requests/s{share}")
    return "\n".join([*lines, *validators()])


def validators() -> list[str]:
    """The validators alone, per call: what each request above spends on its arguments."""
    from django.apps import apps

    registry = apps.get_app_config("mcpserver").registry
    lines = []
    for name in TOOLS:
        validator = registry.get("tool", name).validator
        seconds = (
            min(timeit.repeat(lambda v=validator: v.validate(ARGUMENTS), number=20_000, repeat=5)) / 20_000
        )
        lines.append(
            f"- {name}'s validator alone: {seconds * 1e6:.2f} us per call ({type(validator).__name__})"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())

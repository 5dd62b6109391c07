"""Same-run comparison of ``/mcp`` across commits: each commit's own code, served side by side.

    .venv/bin/python bench/compare.py b4b920f HEAD
    .venv/bin/python bench/compare.py b4b920f 7266f3e 8a70d89 HEAD --rounds 4 --duration 6
    .venv/bin/python bench/compare.py b4b920f HEAD --clients 1
    .venv/bin/python bench/compare.py HEAD HEAD:MCP_AUDIT_SPOOL=false     # one commit, two settings
    .venv/bin/python bench/compare.py b4b920f HEAD --scenario client_credentials

Each argument is a commit (anything ``git rev-parse`` takes), optionally followed by ``:NAME=VALUE,...``
for environment variables of that server. Every commit is checked out into a temporary git worktree
(sharing this checkout's ``.venv``), and each worktree's own ``tests/e2e/liveserver.LiveServer``
serves it with the default serving command on a fresh SQLite database, all of them at once. Then
``--rounds`` rounds run the scenario (``tools/call echo``, or ``--scenario client_credentials``: the
demo service's token requests) with wrk against each server in turn (the order reversed
every other round, so that no tree always follows the same one), and the table gives each tree's
median requests/s, server CPU per request (the server's processes, from /proc) and p99. A figure
from one run moves with the machine from one minute to the next; only trees measured in the same
run, alternating, are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Seconds to wait before the first round and after the last, so that "overall" (a server's CPU per
# request from the first round to the end, the time between its runs included) counts the work a
# server leaves for after a run, such as its audit writer's last flushes, and nothing of the warm-up.
SETTLE_SECONDS = 3.0


@dataclass
class Tree:
    """One commit checked out, and its server once started."""

    spec: str
    env: dict[str, str]
    path: Path
    process: subprocess.Popen | None = None
    url: str = ""
    pid: int = 0
    token: str = ""
    runs: list[dict] = field(default_factory=list)
    cpu_at_start: float = 0.0  # the server's CPU seconds when the rounds began
    cpu_overall: float = 0.0  # CPU us per request over all the rounds, the time between runs included


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``COMMIT[:NAME=VALUE,...]`` as the commit and its environment variables."""
    commit, _, assignments = spec.partition(":")
    env = {}
    for assignment in filter(None, assignments.split(",")):
        name, sep, value = assignment.partition("=")
        if not sep or not name:
            raise SystemExit(f"{spec!r}: expected COMMIT:NAME=VALUE,...")
        env[name] = value
    return commit, env


def git(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=check)  # noqa: S603, S607


def checkout(commit: str, where: Path) -> Path:
    """A detached worktree of ``commit`` under ``where``, using this checkout's virtual environment."""
    sha = git("rev-parse", "--verify", f"{commit}^{{commit}}")
    if sha.returncode != 0:
        raise SystemExit(f"not a commit: {commit}")
    path = where / sha.stdout.strip()[:12]
    if not path.exists():
        git("worktree", "add", "-q", "--detach", str(path), sha.stdout.strip(), check=True)
        (path / ".venv").symlink_to(ROOT / ".venv")
    return path


def serve(tree: str, env_json: str) -> None:
    """(The child process of one tree.) Start the tree's live server, print its address, pid and a
    token as one JSON line, and stop it when stdin closes."""
    os.chdir(tree)
    sys.path.insert(0, tree)
    from tests.e2e.liveserver import LiveServer  # the tree's own

    server = LiveServer(env=json.loads(env_json))
    server.start()
    try:
        token = server.issue_token("alice", ["mcp:read", "mcp:tools"], lifetime=86400)
        print(json.dumps({"url": server.url, "pid": server.pid, "token": token}), flush=True)
        sys.stdin.read()
    finally:
        server.stop()


def load_bench():
    """bench/run.py and bench/suite.py, imported by the parent only: they import this checkout's
    ``tests`` and ``dev``, which a child must take from its own tree."""
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    import run
    import suite

    return run, suite


def start(tree: Tree, bench_env: dict[str, str]) -> None:
    env = {**bench_env, **tree.env}
    tree.process = subprocess.Popen(  # noqa: S603  (this interpreter, this file)
        [sys.executable, __file__, "--serve", str(tree.path), json.dumps(env)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = tree.process.stdout.readline()
    if not line:
        raise SystemExit(f"{tree.spec}: the server did not start")
    info = json.loads(line)
    tree.url, tree.pid, tree.token = info["url"], info["pid"], info["token"]


@dataclass
class Server:
    """What bench/run.py reads of a server: its address, and its process and workers for CPU time."""

    url: str
    pid: int

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []


# What a round requests: a scenario of bench/suite.py, given the module and the tree (whose token /mcp needs).
SCENARIOS = {
    "mcp": lambda suite, tree: suite.mcp_call(tree.token),
    "client_credentials": lambda suite, tree: suite.TOKENS,
}


def measure(run, tree: Tree, scenario, clients: int, seconds: float) -> dict:
    server = Server(tree.url, tree.pid)
    before = run.server_cpu_seconds(server)
    figures = run.run_wrk(server, scenario, clients, seconds)
    figures["cpu_us"] = (run.server_cpu_seconds(server) - before) / max(figures["requests"], 1) * 1e6
    return figures


def table(trees: list[Tree]) -> str:
    lines = [
        "| tree | requests/s, median (runs) | server CPU us/req, median | overall | p99 ms, median "
        "| errors |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for tree in trees:
        rates = [run["requests"] / run["seconds"] for run in tree.runs]
        runs = ", ".join(f"{rate:,.0f}" for rate in rates)
        lines.append(
            f"| {tree.spec} | {statistics.median(rates):,.0f} ({runs}) "
            f"| {statistics.median(run['cpu_us'] for run in tree.runs):.0f} "
            f"| {tree.cpu_overall:.0f} "
            f"| {statistics.median(run['p99_ms'] for run in tree.runs):.1f} "
            f"| {sum(run['errors'] for run in tree.runs)} |"
        )
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commits", nargs="*", help="COMMIT[:NAME=VALUE,...], two or more")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=float, default=8, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=3, help="seconds per tree before the rounds")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="mcp")
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.serve:
        serve(*args.serve)
        return 0
    if len(args.commits) < 2:
        raise SystemExit("name two or more commits")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (Debian package wrk)")
    run, suite = load_bench()
    workdir = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    trees: list[Tree] = []
    try:
        for spec in args.commits:
            commit, env = parse_spec(spec)
            trees.append(Tree(spec, env, checkout(commit, workdir)))
        for tree in trees:
            start(tree, suite.BENCH_ENV)
            print(f"{tree.spec}: {tree.url}", file=sys.stderr, flush=True)
        for tree in trees:
            measure(run, tree, SCENARIOS[args.scenario](suite, tree), args.clients, args.warmup)
        time.sleep(SETTLE_SECONDS)
        for tree in trees:
            tree.cpu_at_start = run.server_cpu_seconds(Server(tree.url, tree.pid))
        for number in range(args.rounds):
            for tree in trees if number % 2 == 0 else trees[::-1]:
                figures = measure(
                    run, tree, SCENARIOS[args.scenario](suite, tree), args.clients, args.duration
                )
                tree.runs.append(figures)
                rate = figures["requests"] / figures["seconds"]
                print(
                    f"round {number + 1}: {tree.spec}: {rate:,.0f} req/s, "
                    f"{figures['cpu_us']:.0f} us/req, p99 {figures['p99_ms']:.1f} ms",
                    file=sys.stderr,
                    flush=True,
                )
        time.sleep(SETTLE_SECONDS)  # what a server does after its last run (its writer's flush) counts too
        for tree in trees:
            spent = run.server_cpu_seconds(Server(tree.url, tree.pid)) - tree.cpu_at_start
            tree.cpu_overall = spent / max(sum(figures["requests"] for figures in tree.runs), 1) * 1e6
        rounds = f"{args.rounds} rounds of {args.duration:g} s"
        scenario = SCENARIOS[args.scenario](suite, trees[0]).name
        print(f"{scenario}, {args.clients} clients, SQLite, {rounds}\n")
        print(table(trees))
    finally:
        for tree in trees:
            if tree.process and tree.process.poll() is None:
                tree.process.stdin.close()
                tree.process.wait(timeout=120)
        for tree in trees:
            git("worktree", "remove", "--force", str(tree.path))
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The project's two commands, needing nothing but Python 3.11+:

    python3 dev.py serve   # create .venv, migrate, load demo data, serve on http://127.0.0.1:8000
                           # (and run a task worker beside the server, restarted if it exits)
    python3 dev.py test    # create .venv with test tools and run the whole test suite

Both are idempotent; the virtual environment is rebuilt only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("VENV_DIR", ROOT / ".venv"))
BIN = VENV / "bin"
PY = BIN / "python"


def run(*args: str, **kwargs) -> None:
    subprocess.run(list(args), check=True, cwd=ROOT, **kwargs)


def ensure_env(extras: str = "") -> None:
    """Create the virtual environment and install the project (and extras) when out of date."""
    if not PY.exists():
        print(f"Creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    spec = (ROOT / "pyproject.toml").read_bytes() + extras.encode()
    stamp = VENV / f".installed{('-' + extras) if extras else ''}"
    digest = hashlib.sha256(spec).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    print("Installing dependencies", flush=True)
    target = f".[{extras}]" if extras else "."
    run(str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", target)
    stamp.write_text(digest)


def manage(*args: str) -> None:
    run(str(PY), "manage.py", *args)


def prepare_database() -> None:
    manage("migrate", "--noinput", "-v", "0")
    manage("createcachetable")


# --- the production serving command (also run by tests/e2e/liveserver.py and bench/) ---

# WSGI servers the serving command can run, compared by bench/suite.py (figures and their reading:
# bench/REPORT.md; docs/design.md, "The serving path"). granian is the default, chosen from those
# figures; it also streams SSE.
SERVERS = ("granian", "gthread", "sync")
DEFAULT_SERVER = "granian"
# Per worker (granian blocking threads, gthread threads): bench/REPORT.md, "Serving command".
DEFAULT_THREADS = 3


def default_workers(server: str = DEFAULT_SERVER) -> int:
    """Worker processes from the CPU count: one per core (threads share a worker), 2 x cores + 1 for sync."""
    cpus = os.cpu_count() or 1
    return 2 * cpus + 1 if server == "sync" else cpus


def serving_command(
    host: str,
    port: int | str,
    server: str = DEFAULT_SERVER,
    workers: int | None = None,
    threads: int = DEFAULT_THREADS,
    python: str = str(PY),
) -> list[str]:
    """The command line that serves ``config.wsgi`` (run from the project root with the venv's python).

    Each worker loads ``config.wsgi.worker_application``, a factory that settles the worker's heap
    before handing over the application (importing ``config.wsgi`` alone leaves the collector alone).
    """
    workers = workers or default_workers(server)
    if server == "granian":
        return [
            python, "-m", "granian", "--interface", "wsgi", "--factory", "config.wsgi:worker_application",
            "--host", host, "--port", str(port), "--workers", str(workers),
            "--blocking-threads", str(threads), "--no-ws", "--log-level", "warning",
            "--workers-kill-timeout", "30",
        ]
    command = [
        python, "-m", "gunicorn", "config.wsgi:worker_application()", "--bind", f"{host}:{port}",
        "--workers", str(workers), "--graceful-timeout", "30",
        # gunicorn 23+ opens one control socket per user (~/.gunicorn/gunicorn.ctl): parallel
        # servers on one machine would take it from each other.
        "--no-control-socket",
    ]
    if server == "gthread":
        command += ["--worker-class", "gthread", "--threads", str(threads)]
    elif server != "sync":
        raise ValueError(f"unknown server {server!r}; choose one of {', '.join(SERVERS)}")
    return command


# The task worker (Django's Tasks framework, django-tasks-db): runs MCP tasks (mcpserver.tasks). How long
# an idle worker waits before it looks for queued work again.
WORKER_INTERVAL_SECONDS = 0.2


def worker_command(python: str = str(PY)) -> list[str]:
    """The command line of one task worker (``manage.py db_worker``), run from the project root."""
    return [
        python, "manage.py", "db_worker", "--interval", str(WORKER_INTERVAL_SECONDS),
        "--no-reload", "--no-startup-delay", "-v", "0",
    ]  # fmt: skip


def supervise(server: list[str], worker: list[str]) -> int:
    """Run the server and a task worker; restart the worker whenever it exits, until the server does.
    SIGINT and SIGTERM are passed on to both (each shuts down gracefully); the server's exit status is
    returned."""
    import signal
    import time

    serving = subprocess.Popen(server, cwd=ROOT)
    working = subprocess.Popen(worker, cwd=ROOT)

    def stop(signum, frame):
        for process in (serving, working):
            if process.poll() is None:
                process.send_signal(signum)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        while serving.poll() is None:
            if working.poll() is not None:
                print(f"The task worker exited ({working.returncode}); starting another", flush=True)
                time.sleep(1)
                working = subprocess.Popen(worker, cwd=ROOT)
            time.sleep(0.5)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if working.poll() is None:
            working.terminate()
            working.wait(timeout=60)
    return serving.returncode


def reset_metrics_dir(path: str | Path) -> None:
    """Empty prometheus_client's multiprocess directory: a (re)started server counts from zero."""
    shutil.rmtree(path, ignore_errors=True)
    Path(path).mkdir(parents=True)


def serve() -> None:
    host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
    if "PUBLIC_URL" not in os.environ and host not in {"0.0.0.0", "::"}:
        # The issuer and the MCP resource follow where a local run listens; behind a proxy set PUBLIC_URL.
        os.environ["PUBLIC_URL"] = f"http://{host}:{port}"
    ensure_env()
    prepare_database()
    manage("seed_demo")
    manage("collectstatic", "--noinput", "-v", "0")
    server = os.environ.get("WSGI_SERVER", DEFAULT_SERVER)
    workers = int(os.environ.get("WEB_CONCURRENCY") or default_workers(server))
    threads = int(os.environ.get("THREADS") or DEFAULT_THREADS)
    metrics = os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", str(Path(tempfile.gettempdir()) / f"mcp-oauth-metrics-{port}")
    )
    reset_metrics_dir(metrics)
    print(
        f"Serving on http://{host}:{port} with {server} ({workers} workers, {threads} threads each; "
        f"issuer {os.environ.get('PUBLIC_URL', 'http://127.0.0.1:8000')}), and a task worker",
        flush=True,
    )
    sys.exit(supervise(serving_command(host, port, server, workers, threads), worker_command()))


# The test suite runs on a pytest-xdist worker per core, up to this many (tests/workers.py gives each
# worker Redis databases of its own: four sets fit in one Redis server).
MAX_TEST_WORKERS = 4


def pytest_arguments(args: list[str], cores: int | None = None) -> list[str]:
    """pytest's arguments for ``dev.py test ARGS``: ``ARGS`` on a worker per core (a test file's tests
    all on one worker, which its module fixtures' servers then serve once), unless ``ARGS`` choose
    (``-n 0``: one process) or the machine has one core."""
    chosen = any(arg.startswith(("-n", "--numprocesses", "--dist")) or arg == "no:xdist" for arg in args)
    workers = min(cores or os.cpu_count() or 1, MAX_TEST_WORKERS)
    if chosen or workers < 2:
        return args
    return ["-n", str(workers), "--dist", "loadfile", *args]


def test() -> None:
    ensure_env("test")
    os.execv(str(PY), [str(PY), "-m", "pytest", *pytest_arguments(sys.argv[2:])])


COMMANDS = {"serve": serve, "test": test}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    os.chdir(ROOT)
    COMMANDS[sys.argv[1]]()

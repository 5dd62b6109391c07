"""dev.py's serving command: one definition, used by `dev.py serve`, the live server and bench/.

The command is read back through each server's own command-line parser and application loader:
what granian or gunicorn would do with it, not how it is spelled.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dev  # noqa: E402


def granian_options(command: list[str]) -> dict:
    """The options granian's own CLI parses from ``command`` (nothing is started)."""
    from granian.cli import cli

    assert command[:3] == ["py", "-m", "granian"]
    return cli.make_context("granian", command[3:]).params


def gunicorn_options(command: list[str]):
    """The options gunicorn's own CLI parses from ``command`` (nothing is started)."""
    from gunicorn.config import Config

    assert command[:3] == ["py", "-m", "gunicorn"]
    return Config().parser().parse_args(command[3:])


def test_the_default_is_granian_with_a_worker_per_core(monkeypatch):
    monkeypatch.setattr(dev.os, "cpu_count", lambda: 3)
    options = granian_options(dev.serving_command("127.0.0.1", 8000, python="py"))
    assert dev.DEFAULT_SERVER == "granian"
    assert options["interface"].value == "wsgi"
    assert (options["host"], options["port"]) == ("127.0.0.1", 8000)
    assert options["workers"] == 3
    assert options["blocking_threads"] == dev.DEFAULT_THREADS == 3
    assert options["websockets"] is False
    assert options["workers_kill_timeout"] == 30  # the graceful shutdown's bound


def test_gunicorn_variants_and_their_worker_counts(monkeypatch):
    monkeypatch.setattr(dev.os, "cpu_count", lambda: 2)
    gthread = gunicorn_options(dev.serving_command("0.0.0.0", 9000, "gthread", threads=8, python="py"))
    assert gthread.bind == ["0.0.0.0:9000"]
    assert gthread.workers == 2
    assert (gthread.worker_class, gthread.threads) == ("gthread", 8)
    assert gthread.graceful_timeout == 30
    assert gthread.control_socket_disable is True  # parallel servers would share ~/.gunicorn's socket
    sync = gunicorn_options(dev.serving_command("127.0.0.1", 9000, "sync", python="py"))
    assert sync.workers == 5  # 2 x cores + 1
    assert sync.worker_class is None  # gunicorn's default: sync workers
    # gunicorn's own access log would print query strings (credentials): the JSON line replaces it.
    assert gthread.accesslog is None and sync.accesslog is None


@pytest.fixture
def freezes(monkeypatch) -> list[str]:
    """What ``config.wsgi`` asks of the garbage collector, recorded instead of done: a frozen heap in
    the test process would hide every later test's reference cycles from the collector."""
    import config.wsgi

    calls: list[str] = []
    monkeypatch.setattr(
        config.wsgi,
        "gc",
        types.SimpleNamespace(collect=lambda: calls.append("collect"), freeze=lambda: calls.append("freeze")),
    )
    return calls


def test_a_granian_worker_loads_the_application_with_its_heap_settled(freezes):
    from granian._internal import load_target

    import config.wsgi

    options = granian_options(dev.serving_command("127.0.0.1", 8000, python="py"))
    loaded = load_target(options["app"], factory=options["factory"])  # what each worker runs
    assert loaded is config.wsgi.application
    assert freezes == ["collect", "freeze"]


@pytest.mark.parametrize("server", ["gthread", "sync"])
def test_a_gunicorn_worker_loads_the_application_with_its_heap_settled(freezes, server):
    from gunicorn.util import import_app

    import config.wsgi

    (target,) = gunicorn_options(dev.serving_command("127.0.0.1", 9000, server, python="py")).args
    assert import_app(target) is config.wsgi.application  # what each worker runs
    assert freezes == ["collect", "freeze"]


def test_an_unknown_server_is_refused():
    with pytest.raises(ValueError):
        dev.serving_command("127.0.0.1", 8000, "uwsgi")


def test_the_metrics_directory_is_emptied(tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_123.db").write_bytes(b"old")
    dev.reset_metrics_dir(directory)
    assert directory.is_dir() and list(directory.iterdir()) == []


def test_the_worker_command_is_django_tasks_db_worker():
    from django.core.management import load_command_class

    command = dev.worker_command("py")
    assert command[:3] == ["py", "manage.py", "db_worker"]
    parser = load_command_class("django_tasks_db", "db_worker").create_parser("manage.py", "db_worker")
    options = parser.parse_args(command[3:])
    assert options.interval == dev.WORKER_INTERVAL_SECONDS and options.reload is False
    assert options.startup_delay is False


def test_serve_supervises_a_worker_that_exits_and_stops_it_with_the_server(tmp_path):
    starts = tmp_path / "starts"
    worker = [sys.executable, "-c", f"open({str(starts)!r}, 'a').write('x')"]  # exits at once
    server = [sys.executable, "-c", "import time; time.sleep(2.5); raise SystemExit(7)"]
    assert dev.supervise(server, worker) == 7
    assert len(starts.read_text()) >= 2  # restarted after it exited


def test_serve_stops_a_running_worker_when_the_server_exits(tmp_path):
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    worker = [sys.executable, "-c", code]
    server = [sys.executable, "-c", "import time; time.sleep(1.5)"]
    assert dev.supervise(server, worker) == 0
    pid = int(pid_file.read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_the_suite_runs_on_a_worker_per_core_with_each_file_on_one_worker():
    parallel = ["-n", "2", "--dist", "loadfile"]
    assert dev.pytest_arguments(["-m", "not slow"], cores=2) == [*parallel, "-m", "not slow"]
    assert dev.pytest_arguments([], cores=16)[:2] == ["-n", str(dev.MAX_TEST_WORKERS)]


@pytest.mark.parametrize(
    "args", [["-n", "0"], ["-n0"], ["--numprocesses=3"], ["-p", "no:xdist"], ["--dist", "no"]]
)
def test_arguments_that_choose_the_workers_are_left_alone(args):
    assert dev.pytest_arguments(args, cores=8) == args


def test_one_core_runs_in_one_process():
    assert dev.pytest_arguments(["tests/authserver"], cores=1) == ["tests/authserver"]

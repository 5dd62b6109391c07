"""dev.py's serving command: one definition, used by `dev.py serve`, the live server and bench/."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dev  # noqa: E402


def test_the_default_is_granian_with_a_worker_per_core(monkeypatch):
    monkeypatch.setattr(dev.os, "cpu_count", lambda: 3)
    command = dev.serving_command("127.0.0.1", 8000, python="py")
    assert dev.DEFAULT_SERVER == "granian"
    assert command[:4] == ["py", "-m", "granian", "--interface"]
    assert command[command.index("--workers") + 1] == "3"
    assert command[command.index("--blocking-threads") + 1] == str(dev.DEFAULT_THREADS) == "3"
    assert "config.wsgi:application" in command


def test_gunicorn_variants_and_their_worker_counts(monkeypatch):
    monkeypatch.setattr(dev.os, "cpu_count", lambda: 2)
    gthread = dev.serving_command("0.0.0.0", 9000, "gthread", threads=8, python="py")
    assert gthread[:4] == ["py", "-m", "gunicorn", "config.wsgi"]
    assert gthread[gthread.index("--bind") + 1] == "0.0.0.0:9000"
    assert gthread[gthread.index("--workers") + 1] == "2"
    assert gthread[gthread.index("--worker-class") + 1 :][:3] == ["gthread", "--threads", "8"]
    sync = dev.serving_command("127.0.0.1", 9000, "sync", python="py")
    assert sync[sync.index("--workers") + 1] == "5"  # 2 x cores + 1
    assert "--worker-class" not in sync
    # gunicorn's own access log would print query strings (credentials): the JSON line replaces it.
    assert "--access-logfile" not in gthread + sync


def test_an_unknown_server_is_refused():
    with pytest.raises(ValueError):
        dev.serving_command("127.0.0.1", 8000, "uwsgi")


def test_the_metrics_directory_is_emptied(tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_123.db").write_bytes(b"old")
    dev.reset_metrics_dir(directory)
    assert directory.is_dir() and list(directory.iterdir()) == []

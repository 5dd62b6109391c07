"""Private Redis and PostgreSQL servers for fault tests: stopped and started at will, never the shared ones.

Each runs on a free loopback port with its files in a temporary directory and is built for speed,
not durability (no fsync, no persistence). PostgreSQL refuses to run as root, so when the tests run
as root the cluster belongs to the ``postgres`` user (``runuser``).

    with PrivateRedis() as redis, PrivatePostgres() as postgres:
        LiveServer(database_url=postgres.database_url("app"), redis_url=redis.url)
        redis.stop(); ...; redis.start()
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .liveserver import free_port

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} within {timeout} s")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def available() -> str | None:
    """Why private servers cannot run here (a skip reason), or None."""
    if shutil.which("redis-server") is None:
        return "redis-server is not installed"
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL binaries not found in {PG_BIN} (set PG_BIN)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres user to own a private cluster"
    return None


class PrivateRedis:
    """A ``redis-server`` of our own: ``stop()`` kills it (its data is lost), ``start()`` starts it empty."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="private-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
        _wait(lambda: _listening(self.port), 10, "Redis did not start")
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()  # an abrupt outage: nothing is saved
            process.wait(timeout=10)
        _wait(lambda: not _listening(self.port), 10, "Redis did not stop")

    def pause(self) -> None:
        """SIGSTOP: connections are accepted (by the kernel) but nothing is answered, as when hung."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self.process is not None:
            self.resume()
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PrivateRedis:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()


class PrivatePostgres:
    """A PostgreSQL 15 cluster of our own (initdb in a temporary directory, trust auth, no fsync)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="private-postgres-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.owner = "postgres" if os.geteuid() == 0 else None
        if self.owner:
            shutil.chown(self.dir, user=self.owner)

    def database_url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if self.owner:
            command = ["runuser", "-u", self.owner, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def start(self) -> PrivatePostgres:
        if not self.data.exists():
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"
            )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=16MB "
            "-c max_connections=100"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.dir / "postgres.log"), "-w", "-o", options, "start"
        )
        return self

    def stop(self) -> None:
        """A fast shutdown: every connection is cut, as when the server restarts."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

"""A live server process: the production serving command on a fresh database, for e2e tests and bench/.

``LiveServer`` provisions its own database (a temporary SQLite file, or a PostgreSQL database it
creates and drops), runs ``migrate``, ``createcachetable``, ``seed_demo`` and ``collectstatic`` (into
its own directory, for the admin pages), then serves
``config.wsgi`` with the serving command of ``dev.py serve`` (``dev.serving_command``: granian's WSGI
interface by default, ``E2E_WSGI_SERVER=gthread`` or ``sync`` for gunicorn) on
a free loopback port, with ``PUBLIC_URL`` set to that address. ``manage()`` runs any management
command against the same database and environment, e.g. ``issue_token``.

    with LiveServer(database_url=None, workers=2, threads=4) as server:
        httpx.get(server.url + "/.well-known/jwks.json")
        token = server.issue_token("alice", ["mcp:read"])
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import dev  # noqa: E402  (the one definition of the production serving command)

READY_PATH = "/.well-known/oauth-authorization-server"
# Variables of the caller's environment that would point the server somewhere else.
SCRUBBED = (
    "DATABASE_URL",
    "REDIS_URL",
    "PUBLIC_URL",
    "OAUTH_ISSUER",
    "MCP_RESOURCE_URL",
    "SECRET_KEY",
    "DJANGO_SETTINGS_MODULE",
    "HOST",
    "PORT",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DEBUG",
)
# A 5xx in the access log (gunicorn's, or the JSON one: orjson writes "status":500, the standard
# library "status": 500), Django's 500 log line, a locked SQLite database, a worker killed or crashed
# (gunicorn's and granian's words for it).
SERVER_ERROR = re.compile(
    r'" 5\d\d \d+ |"status": ?5\d\d\b|Internal Server Error|database is locked|WORKER TIMEOUT|\[CRITICAL\]'
    r"|Unexpected exit from worker|crash loop detected"
)


def free_port() -> int:
    """A loopback TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresDatabase:
    """A PostgreSQL database created for one server and dropped afterwards (never a shared one)."""

    def __init__(self, url: str):
        self.url = url
        self.name = urlsplit(url).path.lstrip("/")
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", self.name or ""):
            raise ValueError(f"unsafe PostgreSQL database name {self.name!r} in {url!r}")
        if self.name in {"postgres", "template0", "template1", "test", "test_test"}:
            raise ValueError(f"refusing to recreate the shared database {self.name!r}")
        self.admin_url = urlunsplit(urlsplit(url)._replace(path="/postgres", scheme="postgresql"))

    def _execute(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(statement)

    def create(self) -> None:
        self.drop()
        self._execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def with_worker_suffix(url: str) -> str:
    """Give each pytest-xdist worker its own PostgreSQL database."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path}_{worker}"))


class LiveServer:
    """One server process on a fresh database, started by ``start()`` and ended by ``stop()``."""

    def __init__(
        self,
        database_url: str | None = None,
        redis_url: str | None = None,
        workers: int | None = None,
        threads: int | None = None,
        server: str | None = None,
        env: dict[str, str] | None = None,
        access_log: bool = True,
        task_worker: bool = False,
    ):
        self.workdir = Path(tempfile.mkdtemp(prefix="liveserver-"))
        self.postgres = PostgresDatabase(database_url) if database_url else None
        self.database_url = database_url or f"sqlite:///{self.workdir / 'db.sqlite3'}"
        self.redis_url = redis_url
        # The default serving command (E2E_WSGI_SERVER picks another), its workers from the CPU count.
        self.server = server or os.environ.get("E2E_WSGI_SERVER") or dev.DEFAULT_SERVER
        self.workers = workers or dev.default_workers(self.server)
        self.threads, self.access_log = threads or dev.DEFAULT_THREADS, access_log
        self.extra_env = dict(env or {})
        self.log_path = self.workdir / "server.log"
        self.metrics_dir = self.workdir / "metrics"
        self.metrics_dir.mkdir()
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        # A task worker beside the server (``dev.worker_command``, as ``dev.py serve`` runs one).
        self.task_worker = task_worker
        self.worker: subprocess.Popen | None = None
        self.worker_log_path = self.workdir / "worker.log"
        self.secret_key = secrets.token_urlsafe(50)
        self.cache_prefix = f"liveserver-{secrets.token_hex(4)}"

    # --- addresses and environment ---

    @property
    def url(self) -> str:
        """The base URL, which is also the issuer (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def mcp_url(self) -> str:
        return self.url + "/mcp"

    @property
    def database_engine(self) -> str:
        return "postgresql" if self.postgres else "sqlite"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
        env.update(
            PUBLIC_URL=self.url,
            DATABASE_URL=self.database_url,
            SECRET_KEY=self.secret_key,
            CACHE_KEY_PREFIX=self.cache_prefix,
            PYTHONUNBUFFERED="1",
            STATIC_ROOT=str(self.workdir / "static"),  # the admin's files, collected per server
            PROMETHEUS_MULTIPROC_DIR=str(self.metrics_dir),  # the workers' metric files, per server
            MCP_AUDIT_SPOOL_DIR=str(self.workdir / "audit-spool"),  # the workers' audit spool, per server
        )
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        # The access log is the application's JSON line (request id, route, no query string), not the
        # server's own, which would print query strings (credentials included).
        env["ACCESS_LOG"] = "true" if self.access_log else "false"
        env.update(self.extra_env)
        return env

    # --- management commands ---

    def manage(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run ``manage.py ARGS`` against this server's database and settings."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result

    def issue_token(
        self, username: str, scopes: list[str], client: str | None = None, lifetime: int | None = None
    ) -> str:
        """A JWT from ``manage.py issue_token`` (recorded, so revocable like any other)."""
        args = ["issue_token", "--username", username, "--scopes", ",".join(scopes)]
        if client:
            args += ["--client", client]
        if lifetime:
            args += ["--lifetime", str(lifetime)]
        return self.manage(*args).stdout.strip()

    # --- process lifecycle ---

    def prepare(self) -> None:
        """Create the database, migrate it, add the cache table and load the demo data."""
        if self.postgres:
            self.postgres.create()
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("createcachetable")
        self.manage("seed_demo")
        self.manage("collectstatic", "--noinput", "-v", "0")

    def command(self) -> list[str]:
        """The serving command of ``dev.py serve`` (``dev.serving_command``), bound to this server's port."""
        return dev.serving_command(
            "127.0.0.1", self.port, self.server, self.workers, self.threads, python=sys.executable
        )

    def start(self, ready_timeout: float = 60) -> LiveServer:
        """Prepare the database and serve (with a task worker beside it, if asked); return once the
        server answers."""
        self.prepare()
        if self.task_worker:
            self.start_worker()
        for attempt in range(3):
            self._spawn()
            if self._wait_ready(ready_timeout):
                return self
            self._terminate()
            if attempt < 2 and "Address already in use" in self.log_text():
                self.port = free_port()  # lost the race for the port: pick another
                continue
            break
        log = self.log_text()
        self.stop()
        raise RuntimeError(f"the live server did not become ready; its log:\n{log}")

    def peer(self, **env: str) -> LiveServer:
        """A second instance of this deployment, as behind a load balancer: the same database, cache,
        secret key and public URL (``url`` is still its own address), on its own port. Start this
        server first; the peer's ``start()`` migrates nothing new and never drops the database."""
        other = LiveServer(
            redis_url=self.redis_url,
            workers=self.workers,
            threads=self.threads,
            server=self.server,
            env={**self.extra_env, "PUBLIC_URL": self.url, **env},
            access_log=self.access_log,
            task_worker=self.task_worker,
        )
        other.database_url, other.secret_key, other.cache_prefix = (
            self.database_url,
            self.secret_key,
            self.cache_prefix,
        )
        return other

    def restart(self, ready_timeout: float = 60, **env: str) -> LiveServer:
        """Stop the server gracefully and serve again on the same database, with ``env`` added (the task
        worker, if any, is left as it is: ``stop_worker`` and ``start_worker`` restart it)."""
        self._terminate()
        self.extra_env.update(env)
        self._spawn()
        if not self._wait_ready(ready_timeout):
            raise RuntimeError(f"the live server did not come back; its log:\n{self.log_text()[-5000:]}")
        return self

    def start_worker(self) -> None:
        """Start the task worker (``manage.py db_worker``) on this server's database; its output goes to
        ``worker_log_path``."""
        with self.worker_log_path.open("ab") as log:
            self.worker = subprocess.Popen(
                dev.worker_command(sys.executable),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def stop_worker(self) -> None:
        """Stop the task worker gracefully (it finishes the task it runs), or kill it after 35 s."""
        worker, self.worker = self.worker, None
        if worker is None or worker.poll() is not None:
            return
        worker.terminate()
        try:
            worker.wait(timeout=35)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)

    def kill_worker(self) -> None:
        """Kill the task worker abruptly (SIGKILL, as the kernel's out-of-memory killer would): the task it
        runs is left as it was, mid-run."""
        worker, self.worker = self.worker, None
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)

    def _spawn(self) -> None:
        dev.reset_metrics_dir(self.metrics_dir)  # a fresh start counts from zero
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if httpx.get(self.url + READY_PATH, timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        return False

    def _terminate(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # a graceful shutdown (gunicorn and granian alike)
        try:
            process.wait(timeout=35)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop(self, keep_files: bool = False) -> None:
        """Shut the server (and its task worker) down gracefully, drop its database and (unless kept)
        remove its files."""
        self._terminate()
        self.stop_worker()
        if self.postgres:
            try:
                self.postgres.drop()
            except Exception as exc:  # the report matters more than the cleanup
                print(f"could not drop {self.postgres.name}: {exc}", file=sys.stderr)
        if not keep_files:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- observation ---

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the main server process)."""
        if not self.pid:
            return []
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def rss_bytes(self) -> dict[int, int]:
        """Resident memory of the master and each worker, by process id."""
        sizes = {}
        for pid in [self.pid, *self.worker_pids()]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except (OSError, TypeError):
                continue
            match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
            if match:
                sizes[pid] = int(match.group(1)) * 1024
        return sizes

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_text(self, since: int = 0) -> str:
        """The server's combined output (access log and errors) from byte offset ``since``."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(since)
            return log.read().decode(errors="replace")

    def wait_for_log(self, *texts: str, since: int = 0, timeout: float = 5.0) -> str:
        """The log from byte offset ``since`` once it holds every one of ``texts``.

        Informational lines (the access log) are written in batches every ``LOG_FLUSH_SECONDS``;
        warnings and errors at once. Raises ``AssertionError`` with the log when they never arrive.
        """
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text(since)
            if all(wanted in text for wanted in texts) or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        missing = [wanted for wanted in texts if wanted not in text]
        assert not missing, f"{missing} not in the server log:\n{text[-3000:]}"
        return text

    def errors_since(self, since: int = 0) -> list[str]:
        """Log lines showing a 5xx response, a traceback or a locked SQLite database."""
        return [line for line in self.log_text(since).splitlines() if SERVER_ERROR.search(line)]

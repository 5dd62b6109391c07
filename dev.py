#!/usr/bin/env python3
"""The project's two commands, needing nothing but Python 3.11+:

    python3 dev.py serve   # create .venv, migrate, load demo data, serve on http://127.0.0.1:8000
    python3 dev.py test    # create .venv with test tools and run the whole test suite

Both are idempotent; the virtual environment is rebuilt only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
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


def serve() -> None:
    ensure_env()
    prepare_database()
    manage("seed_demo")
    manage("collectstatic", "--noinput", "-v", "0")
    host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
    workers = os.environ.get("WEB_CONCURRENCY", str(min(4, (os.cpu_count() or 1) * 2)))
    print(f"Serving on http://{host}:{port} (issuer {os.environ.get('PUBLIC_URL', 'http://127.0.0.1:8000')})", flush=True)
    os.execv(
        str(BIN / "gunicorn"),
        [
            "gunicorn", "config.wsgi", "--bind", f"{host}:{port}", "--workers", workers,
            "--worker-class", "gthread", "--threads", os.environ.get("THREADS", "4"),
            "--graceful-timeout", "30", "--no-control-socket",
        ],
    )


def test() -> None:
    ensure_env("test")
    os.execv(str(PY), [str(PY), "-m", "pytest", *sys.argv[2:]])


COMMANDS = {"serve": serve, "test": test}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    os.chdir(ROOT)
    COMMANDS[sys.argv[1]]()

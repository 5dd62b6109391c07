"""The environment: the only module that reads ``os.environ``.

``env``, ``env_bool``, ``env_int`` and ``env_list`` are how every other settings module reads a
variable (surrounding whitespace ignored; an empty variable counts as unset). The settings here are
the ones the other parts derive from: the checkout's directory, DEBUG, SECRET_KEY and the public
URLs.
"""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

# The checkout (the directory holding manage.py): default place for the database, templates, static files.
BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if not value:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env(name)
    return int(value) if value else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def _development_secret_key() -> str:
    """A per-checkout random key, kept in a git-ignored file, for runs without SECRET_KEY."""
    path = BASE_DIR / ".dev-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env_bool("DEBUG")
SECRET_KEY = env("SECRET_KEY") or _development_secret_key()
# Former secrets, still accepted (Django's signing, and sealed MCP requestState) after a rotation.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")

# --- public URLs: one issuer string and one canonical MCP resource, byte-identical everywhere ---
PUBLIC_URL = env("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
OAUTH_ISSUER = env("OAUTH_ISSUER", PUBLIC_URL).rstrip("/")
MCP_RESOURCE_URL = env("MCP_RESOURCE_URL", PUBLIC_URL + "/mcp")
# Whether clients reach us over https: the default of every HTTPS-only setting (config.settings.security).
HTTPS = urlsplit(PUBLIC_URL).scheme == "https"

"""Where state lives: the database, Django's cache and the shared state (``sharedstate``).

Without ``DATABASE_URL`` and ``REDIS_URL`` everything is in one SQLite database (WAL, immediate
transactions); with them, PostgreSQL and Redis.
"""

import dj_database_url

from .env import BASE_DIR, env, env_int

# --- database: SQLite (WAL, immediate transactions) by default, PostgreSQL via DATABASE_URL ---
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000; "
            "PRAGMA foreign_keys=ON;"
        ),
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # An unreachable server fails the request (503) within seconds, not when TCP gives up.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)

# --- Django's cache (and, without Redis, the shared state's keys): Redis when REDIS_URL is set ---
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", "mcpauth"),
            "OPTIONS": {
                # A hung Redis fails requests over to the fallbacks (or a 503) instead of holding them.
                "socket_connect_timeout": 1,
                "socket_timeout": 1,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "authserver_cache",
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", "mcpauth"),
            "OPTIONS": {
                # Django culls live entries past MAX_ENTRIES (default 300): revocation deny-list entries
                # (the shared state's keys live here on the embedded default) must never be culled, so
                # the ceiling sits far above any live count (expired rows go first).
                "MAX_ENTRIES": env_int("DB_CACHE_MAX_ENTRIES", 10_000_000),
            },
        }
    }

# --- shared state (sharedstate/): deny-list, change feeds, sessions, counters, replay caches ---
if REDIS_URL:
    SHARED_STATE = {
        "BACKEND": "sharedstate.redis.RedisState",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", "mcpauth"),
        # A hung Redis fails requests over to the fallbacks (or a 503) instead of holding them.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
else:
    # Keys in the database cache above; change feeds in a file beside the SQLite database.
    SHARED_STATE = {"BACKEND": "sharedstate.embedded.EmbeddedState", "CACHE": "default"}

# Resource servers refuse a token whose SHA-256 checksum sits under this prefix in the shared state.
TOKEN_REVOCATION_PREFIX = "revoked-token:"

# --- background work: Django's Tasks framework, the database backend (manage.py db_worker runs it) ---
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

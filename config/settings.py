"""Project settings: the only module that reads ``os.environ``.

Every value has a safe default for the first local run; production sets the variables listed in
the README (``SECRET_KEY``, ``ALLOWED_HOSTS``, ``PUBLIC_URL``, ``DATABASE_URL``, ``REDIS_URL``, ...).
"""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

from authserver import grants  # the grant table; it imports no models and reads no settings

BASE_DIR = Path(__file__).resolve().parent.parent


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

# --- public URLs: one issuer string and one canonical MCP resource, byte-identical everywhere ---
PUBLIC_URL = env("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
OAUTH_ISSUER = env("OAUTH_ISSUER", PUBLIC_URL).rstrip("/")
MCP_RESOURCE_URL = env("MCP_RESOURCE_URL", PUBLIC_URL + "/mcp")
_public = urlsplit(PUBLIC_URL)
HTTPS = _public.scheme == "https"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", f"127.0.0.1,localhost,[::1],{_public.hostname}")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", f"{_public.scheme}://{_public.netloc}")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "oauth2_provider",
    "corsheaders",
    "rest_framework",
    "authserver",
    "mcpserver",
    "observability",
]

# One list for every request. The browser-page middleware (and django-cors-headers) are config.middleware's
# subclasses of the usual classes: the same, except that they pass requests to the MCP endpoint (/mcp, a
# bearer-token API) straight through. Its views must not touch request.user or request.session.
MIDDLEWARE = [
    # Outermost: the request id, latency, count and access line cover every other middleware.
    "observability.middleware.ObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.CorsMiddleware",
    "config.middleware.WhiteNoiseMiddleware",
    "config.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.middleware.AuthenticationMiddleware",
    "config.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Innermost: an unreachable database or cache raised by a view is a 503 with Retry-After.
    "authserver.outages.OutageMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database: SQLite (WAL, immediate transactions) by default, PostgreSQL via DATABASE_URL ---
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=env_int("DB_CONN_MAX_AGE", 60)
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

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Resource servers refuse a token whose SHA-256 checksum sits under this prefix in the shared state.
TOKEN_REVOCATION_PREFIX = "revoked-token:"

# --- shared cache: Redis when REDIS_URL is set, the database cache otherwise ---
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

# Flash messages (admin actions, the consents page) live in the session those pages already have:
# the default cookie-then-session storage built a signed-cookie reader on every request, API calls
# included (~3% of a /health request's CPU).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# --- identity ---
AUTH_USER_MODEL = "authserver.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "account"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# User passwords keep Django's strong default (PBKDF2, first in the list). Client secrets are long
# random strings and use the fast salted hasher named by CLIENT_SECRET_HASHER below.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "authserver.hashers.ClientSecretHasher",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT")) if env("STATIC_ROOT") else BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_BODY_BYTES", 1024 * 1024)

# --- HTTPS and proxy headers ---
if env_bool("TRUST_X_FORWARDED_PROTO"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env_bool("TRUST_X_FORWARDED_HOST")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
# Probes and scrapers talk plain HTTP to each instance, behind the TLS-terminating proxy.
SECURE_REDIRECT_EXEMPT = [r"^(health|ready|metrics)$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- CORS for browser-based clients (django-cors-headers) ---
# Which origin may read which endpoint is decided per path by authserver.cors (any origin for the
# metadata, JWKS and registration; origins registered on some client for token and revocation).
# /mcp and the protected-resource metadata answer CORS themselves (mcpserver, MCP_ALLOWED_ORIGINS),
# so nothing here matches them. No credentials: none of these endpoints uses cookies.
CORS_URLS_REGEX = r"^/(\.well-known/(oauth-authorization-server|jwks\.json)|oauth/(register|token|revoke)/)"
CORS_ALLOW_HEADERS = [
    "Authorization",
    "Content-Type",
    "MCP-Protocol-Version",
    "Mcp-Method",
    "Mcp-Name",
    "Mcp-Session-Id",
    "Last-Event-ID",
]
CORS_EXPOSE_HEADERS = ["Mcp-Session-Id", "WWW-Authenticate", "MCP-Protocol-Version"]
CORS_ALLOW_METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
CORS_ALLOW_CREDENTIALS = False
CORS_PREFLIGHT_MAX_AGE = 86400

# --- OAuth engine (django-oauth-toolkit). Only DOT's own settings live here. ---
ACCESS_TOKEN_LIFETIME = env_int("ACCESS_TOKEN_LIFETIME", 900)
# Dynamic client registration (RFC 7591/7592): who may register is DOT's permission-class list.
DCR_POLICY = env("DCR_POLICY", "open").lower()
DCR_PERMISSION_CLASSES = {
    "open": ["oauth2_provider.dcr.AllowAllDCRPermission"],
    "token": ["authserver.registration.InitialAccessTokenPermission"],
    "closed": ["authserver.registration.ClosedRegistration"],
}
OAUTH_PASSWORD_GRANT = env_bool("OAUTH_PASSWORD_GRANT", True)
# RFC 8628 device grant, token-endpoint side (DOT's): off until its authorization endpoint is served.
OAUTH_DEVICE_GRANT = env_bool("OAUTH_DEVICE_GRANT", False)
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER = {
    "OAUTH2_SERVER_CLASS": "authserver.server.Server",
    "OAUTH2_VALIDATOR_CLASS": "authserver.validators.OAuth2Validator",
    "SCOPES_BACKEND_CLASS": "authserver.scopes.DatabaseScopes",
    "APPLICATION_ADMIN_CLASS": "authserver.admin.ApplicationAdmin",
    "ACCESS_TOKEN_ADMIN_CLASS": "authserver.admin.AccessTokenAdmin",
    "ACCESS_TOKEN_GENERATOR": "authserver.tokens.generate_access_token",
    "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
    "CLIENT_SECRET_HASHER": "client_secret_sha256",
    "ACCESS_TOKEN_EXPIRE_SECONDS": ACCESS_TOKEN_LIFETIME,
    "REFRESH_TOKEN_EXPIRE_SECONDS": env_int("REFRESH_TOKEN_LIFETIME", 30 * 24 * 3600),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": env_int("AUTHORIZATION_CODE_LIFETIME", 60),
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "PKCE_REQUIRED": True,
    "OIDC_ISS_ENDPOINT": OAUTH_ISSUER,
    "REQUEST_APPROVAL_PROMPT": "force",
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    # Schemes of a client's CORS origins; plain http counts only on loopback (authserver.cors).
    "ALLOWED_SCHEMES": ["https", "http"],
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": not OAUTH_PASSWORD_GRANT,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    # What the token endpoint offers; everything else about each grant is in authserver.grants.
    "OAUTH2_GRANT_TYPES_SUPPORTED": grants.grant_types_supported(
        password=OAUTH_PASSWORD_GRANT, device_code=OAUTH_DEVICE_GRANT
    ),
    # DOT's device pre-token hook loads the device grant unguarded (a 500 for a missing or unknown
    # device_code); the validator's validate_device_code loads it instead (authserver.validators).
    "OAUTH_PRE_TOKEN_VALIDATION": [],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["client_secret_basic", "client_secret_post", "none"],
    "OAUTH2_PROTECTED_RESOURCE_IDENTIFIER": MCP_RESOURCE_URL,
    "OAUTH2_PROTECTED_RESOURCE_AUTHORIZATION_SERVERS": [OAUTH_ISSUER],
    "OAUTH2_PROTECTED_RESOURCE_NAME": env("MCP_RESOURCE_NAME", "MCP server"),
    "DCR_ENABLED": True,
    # An unknown DCR_POLICY registers nobody (and authserver.E003 says why at start-up).
    "DCR_REGISTRATION_PERMISSION_CLASSES": DCR_PERMISSION_CLASSES.get(
        DCR_POLICY, DCR_PERMISSION_CLASSES["closed"]
    ),
    # Client ID Metadata Documents: an https client_id URL is fetched on first use, from public
    # addresses only (SSRF rules; CIMD_PRIVATE_HOSTS excepted), from hosts on the allow-list
    # (ALLOWED_HOSTS syntax; default "*": any), at most CIMD_RATE_LIMIT new ones per address.
    "CIMD_ENABLED": env_bool("CIMD_ENABLED", True),
    "CIMD_ALLOWED_HOSTS": env_list("CIMD_ALLOWED_HOSTS", "*"),
    "CIMD_REGISTRATION_PERMISSION_CLASSES": [
        "oauth2_provider.cimd.HostAllowlistCIMDPermission",
        "authserver.cimd.PerAddressLimit",
    ],
    "CIMD_METADATA_FETCHER": "authserver.cimd.MetadataFetcher",
    # One wall-clock deadline for the whole fetch (lookup, connect, TLS, headers, body).
    "CIMD_FETCH_TIMEOUT_SECONDS": env_int("CIMD_FETCH_TIMEOUT", 5),
    # Fetches in flight per process, below its request threads (THREADS, 3), so that slow metadata
    # servers can never hold them all; one more is refused at once (an unknown client, no backoff).
    "CIMD_MAX_CONCURRENT_FETCHES": env_int("CIMD_MAX_CONCURRENT_FETCHES", 2),
}
SILENCED_SYSTEM_CHECKS = [
    # 'http' stays in DOT's scheme list only for RFC 8252 loopback redirect URIs; authserver's own
    # check (authserver.W001) and redirect-URI validation refuse plain http anywhere else.
    "oauth2_provider.W008",
]
if OAUTH_PASSWORD_GRANT:
    # The password grant is a product requirement for scripts; OAUTH_PASSWORD_GRANT=false turns it off.
    SILENCED_SYSTEM_CHECKS.append("oauth2_provider.W002")

# --- this project's namespaced settings, read at call time through authserver.conf ---
AUTHSERVER = {
    "ISSUER": OAUTH_ISSUER,
    "DEFAULT_RESOURCE": MCP_RESOURCE_URL,
    "ALLOWED_RESOURCES": [MCP_RESOURCE_URL, *env_list("OAUTH_EXTRA_RESOURCES")],
    "SIGNING_KEY_SIZE": env_int("SIGNING_KEY_SIZE", 2048),
    "SIGNING_KEY_RECHECK_SECONDS": env_int("SIGNING_KEY_RECHECK_SECONDS", 5),
    # Longest a worker trusts its in-memory copy of a client (authserver.clientmemo); changes made
    # through the models reach every worker at once through the change feed. 0 turns the memo off.
    "CLIENT_RECHECK_SECONDS": env_int("CLIENT_RECHECK_SECONDS", 5),
    "MAX_TOKEN_LIFETIME": env_int("MAX_ACCESS_TOKEN_LIFETIME", 24 * 3600),
    "LOGIN_FAILURE_LIMIT": env_int("LOGIN_FAILURE_LIMIT", 5),
    "LOGIN_IP_FAILURE_LIMIT": env_int("LOGIN_IP_FAILURE_LIMIT", 50),
    "LOGIN_LOCKOUT_SECONDS": env_int("LOGIN_LOCKOUT_SECONDS", 300),
    "TOKEN_RATE_LIMIT": env_int("TOKEN_RATE_LIMIT", 6000),
    "TOKEN_RATE_WINDOW": env_int("TOKEN_RATE_WINDOW", 60),
    "DCR_POLICY": DCR_POLICY,
    "DCR_DEFAULT_SCOPES": env_list("DCR_DEFAULT_SCOPES") or None,
    "DCR_RATE_LIMIT": env_int("DCR_RATE_LIMIT", 60),
    "DCR_RATE_WINDOW": env_int("DCR_RATE_WINDOW", 3600),
    # Per client, registered or in a metadata document; each one's origin becomes a CORS origin.
    "DCR_MAX_REDIRECT_URIS": env_int("DCR_MAX_REDIRECT_URIS", 10),
    "DCR_MAX_METADATA_BYTES": env_int("DCR_MAX_METADATA_BYTES", 16 * 1024),
    "CIMD_RATE_LIMIT": env_int("CIMD_RATE_LIMIT", 10),
    "CIMD_RATE_WINDOW": env_int("CIMD_RATE_WINDOW", 3600),
    # Hosts whose metadata documents may live on private or loopback addresses (default: none).
    "CIMD_PRIVATE_HOSTS": env_list("CIMD_PRIVATE_HOSTS"),
}

LOG_FORMAT = env("LOG_FORMAT", "json").lower()  # json (one object per line) or text
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "observability.logs.JsonFormatter"},
        "text": {"()": "observability.logs.TextFormatter"},
    },
    "filters": {"one_line_warning": {"()": "observability.logs.OneLineWarning"}},
    "handlers": {
        "console": {
            # stderr, written in batches every LOG_FLUSH_SECONDS (0: every line at once); warnings,
            # errors and the access lines of 5xx responses are written at once, in order.
            "class": "observability.logs.BufferedStreamHandler",
            "formatter": "text" if LOG_FORMAT == "text" else "json",
            "interval": float(env("LOG_FLUSH_SECONDS", "0.1")),
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        # DOT logs request details (including raw query strings) at DEBUG; never let them through.
        "oauth2_provider": {"level": "WARNING"},
        "oauthlib": {"level": "WARNING"},
        "django.db.backends": {"level": "WARNING"},
        # A foreign Host (DNS-rebinding probes, scanners) is refused with 400: a client's mistake, one
        # warning line, not an ERROR with a traceback.
        "django.security.DisallowedHost": {"filters": ["one_line_warning"]},
    },
}

# --- MCP resource server (mcpserver), read at call time through mcpserver.conf ---------------------
# Everything the MCP server needs is here; it never imports authserver. KEY_SOURCE is a dotted path to
# a callable returning a JWKS dict (in-process, the default) or the JWKS URL of an external issuer.
_MCP_KEY_SOURCE = env("MCP_KEY_SOURCE", "authserver.keys.jwks")
MCPSERVER = {
    "ISSUER": OAUTH_ISSUER,
    "RESOURCE_URL": MCP_RESOURCE_URL,
    "RESOURCE_NAME": env("MCP_RESOURCE_NAME", "MCP server"),
    "KEY_SOURCE": _MCP_KEY_SOURCE,
    "REVOCATION_PREFIX": TOKEN_REVOCATION_PREFIX,
    # Who answers "revoked?" when the shared cache is down or was emptied: the in-process issuer's
    # database; an external issuer's tokens are not in it (an outage then answers 503).
    "REVOCATION_FALLBACK": None if "://" in _MCP_KEY_SOURCE else "authserver.revoking.revoked_in_database",
    # How far the issuer's clock may be from ours (token exp/iat, and tokens older than the deny-list).
    "LEEWAY_SECONDS": env_int("MCP_LEEWAY_SECONDS", 30),
    "ALLOWED_ORIGINS": env_list("MCP_ALLOWED_ORIGINS"),
    "MAX_BODY_BYTES": env_int("MCP_MAX_BODY_BYTES", 1024 * 1024),
    "MAX_BATCH_SIZE": env_int("MCP_MAX_BATCH_SIZE", 32),
    "TOOL_TIMEOUT_SECONDS": float(env("MCP_TOOL_TIMEOUT_SECONDS", "30")),
    "MAX_INFLIGHT_PER_CALLER": env_int("MCP_MAX_INFLIGHT_PER_CALLER", 2),
    "SESSION_TTL": env_int("MCP_SESSION_TTL", 24 * 3600),
    "PAGE_SIZE": env_int("MCP_PAGE_SIZE", 50),
    "FIXTURE_PACK": env_bool("MCP_FIXTURE_PACK"),
    "AUDIT": env_bool("MCP_AUDIT", True),
    "AUDIT_FLUSH_SECONDS": float(env("MCP_AUDIT_FLUSH_SECONDS", "1")),
    "AUDIT_BATCH_SIZE": env_int("MCP_AUDIT_BATCH_SIZE", 250),
    "AUDIT_RETENTION_DAYS": env_int("MCP_AUDIT_RETENTION_DAYS", 90),
    "AUDIT_BACKPRESSURE_SECONDS": float(env("MCP_AUDIT_BACKPRESSURE_SECONDS", "5")),
    "AUDIT_SPOOL": env_bool("MCP_AUDIT_SPOOL", True),
    "AUDIT_SPOOL_DIR": env("MCP_AUDIT_SPOOL_DIR") or None,
}
# --- end of the MCP resource server block ---------------------------------------------------------

# --- operations (observability): probes, request ids, JSON logs, Prometheus metrics -------------
OBSERVABILITY = {
    # Client networks that may read /metrics; requests that came through a proxy are always refused.
    "METRICS_ALLOWED_NETWORKS": env_list("METRICS_ALLOWED_IPS", "127.0.0.1/32,::1/128"),
    # Reverse proxies whose X-Forwarded-For names the client (rate limits, lockouts, log lines).
    "TRUSTED_PROXIES": env_list("TRUSTED_PROXIES"),
    # prometheus_client reads this variable itself (at import); the serving command empties it at start.
    "METRICS_DIR": env("PROMETHEUS_MULTIPROC_DIR"),
    "ACCESS_LOG": env_bool("ACCESS_LOG", True),
}

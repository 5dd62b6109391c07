"""Operations: logging, and ``OBSERVABILITY`` (probes, request ids, Prometheus metrics, access lines)."""

from .env import env, env_bool, env_list

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

# --- observability: probes, request ids, JSON logs, Prometheus metrics ---
OBSERVABILITY = {
    # Client networks that may read /metrics; requests that came through a proxy are always refused.
    "METRICS_ALLOWED_NETWORKS": env_list("METRICS_ALLOWED_IPS", "127.0.0.1/32,::1/128"),
    # Reverse proxies whose X-Forwarded-For names the client (rate limits, lockouts, log lines).
    "TRUSTED_PROXIES": env_list("TRUSTED_PROXIES"),
    # prometheus_client reads this variable itself (at import); the serving command empties it at start.
    "METRICS_DIR": env("PROMETHEUS_MULTIPROC_DIR"),
    "ACCESS_LOG": env_bool("ACCESS_LOG", True),
}

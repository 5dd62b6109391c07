"""The ``OBSERVABILITY`` settings namespace, read at call time so tests and deployments can override it."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Client networks that may read /metrics (scrape each instance directly, never through the proxy).
    "METRICS_ALLOWED_NETWORKS": ["127.0.0.1/32", "::1/128"],
    # prometheus_client's multiprocess directory (PROMETHEUS_MULTIPROC_DIR); empty: one process only.
    "METRICS_DIR": "",
    "ACCESS_LOG": True,  # one JSON line per request on the observability.access logger
    "REQUEST_ID_HEADER": "X-Request-ID",
}


def get(name: str) -> Any:
    """Return one OBSERVABILITY setting, falling back to its default."""
    return getattr(settings, "OBSERVABILITY", {}).get(name, DEFAULTS[name])

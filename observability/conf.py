"""The ``OBSERVABILITY`` settings namespace: read once per process, forgotten on ``setting_changed``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # Client networks that may read /metrics (scrape each instance directly, never through the proxy).
    "METRICS_ALLOWED_NETWORKS": ["127.0.0.1/32", "::1/128"],
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client; empty: none.
    "TRUSTED_PROXIES": [],
    # prometheus_client's multiprocess directory (PROMETHEUS_MULTIPROC_DIR); empty: one process only.
    "METRICS_DIR": "",
    "ACCESS_LOG": True,  # one JSON line per request on the observability.access logger
    "REQUEST_ID_HEADER": "X-Request-ID",
}


_values: dict[str, Any] = {}


def get(name: str) -> Any:
    """Return one OBSERVABILITY setting, falling back to its default."""
    try:
        return _values[name]
    except KeyError:
        value = _values[name] = getattr(settings, "OBSERVABILITY", {}).get(name, DEFAULTS[name])
        return value


def _forget(setting: str, **kwargs: Any) -> None:
    if setting == "OBSERVABILITY":
        _values.clear()


setting_changed.connect(_forget, dispatch_uid="observability-conf")

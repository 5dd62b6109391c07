"""Operations: liveness and readiness probes, request ids, JSON logs and Prometheus metrics.

The app owns no models. ``ObservabilityMiddleware`` (first in ``MIDDLEWARE``) gives every request an
id, times it, counts it and writes one JSON access line; the other apps' events reach the counters
through signals (DOT's ``app_authorized``, ``mcpserver.signals``, ``user_login_failed``), wired in
``AppConfig.ready()``.
"""

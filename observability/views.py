"""HTTP edges: liveness, readiness and the metrics exposition; thin by design."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

from . import allowlist, metrics, probes


@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers HTTP. Touches neither the database nor the shared state."""
    return _no_store(JsonResponse({"status": "ok"}))


@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when the database and the shared state answer, else 503 naming what failed."""
    checks = probes.run()
    failed = [name for name, ok in checks.items() if not ok]
    body = {
        "status": "unavailable" if failed else "ok",
        "checks": {name: "ok" if ok else "failed" for name, ok in checks.items()},
    }
    if failed:
        body["failed"] = failed
    response = JsonResponse(body, status=503 if failed else 200)
    if failed:
        response["Retry-After"] = "5"
    return _no_store(response)


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus text format, for allowed scrapers only (``OBSERVABILITY["METRICS_ALLOWED_NETWORKS"]``,
    set from ``METRICS_ALLOWED_IPS``; never through a proxy)."""
    if not allowlist.allowed(request):
        body = {"error": "forbidden", "error_description": "Metrics are not served to this address."}
        return _no_store(JsonResponse(body, status=403))
    body, content_type = metrics.render()
    return _no_store(HttpResponse(body, content_type=content_type))


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response

"""The Prometheus metrics and their exposition; multiprocess-aware (gunicorn and granian workers).

prometheus_client decides at import time, from ``PROMETHEUS_MULTIPROC_DIR``, whether values live in
per-process memory-mapped files; the serving command sets and empties that directory before the
workers start, and ``render()`` then merges every worker's files.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from . import conf

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "<unmatched>"  # requests answered before URL resolution (404, redirects, bad Host)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by URL route, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from the request reaching Django to the response leaving the middleware (streams: first byte).",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
TOKENS_ISSUED = Counter(
    "oauth_tokens_issued_total", "Access tokens issued by the token endpoint, by grant.", ["grant"]
)
TOOL_CALLS = Counter(
    "mcp_tool_calls_total", "MCP tools/call requests audited, by tool and outcome.", ["tool", "outcome"]
)
AUTH_FAILURES = Counter("auth_failures_total", "Refused credentials, by reason.", ["reason"])
AUDIT_DROPPED = Counter(
    "mcp_audit_records_dropped_total",
    "Audit records lost because the buffer was full while the database refused them.",
)

# Grant types counted under their own name (``count_grants``); tokens of any other count as "other".
_grants: set[str] = set()
_children: dict[tuple, object] = {}
_children_lock = threading.Lock()


def _child(metric, *labels: object):
    """``metric.labels(*labels)``, looked up once per process and label set (all label values here
    come from short fixed lists: routes, methods, statuses, grants, registered tools, outcomes,
    reasons). ``labels()`` takes a lock and builds a key on every call; the hot path saves that."""
    key = (metric, labels)
    child = _children.get(key)
    if child is None:
        with _children_lock:
            child = _children[key] = metric.labels(*labels)
    return child


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency (any other method counts as OTHER: labels stay few)."""
    _child(REQUESTS, route, method if method in METHODS else "OTHER", status).inc()
    _child(LATENCY, route).observe(seconds)


def count_grants(grant_types: Iterable[str]) -> None:
    """Name grant types that ``oauth_tokens_issued_total`` counts under their own label; a token from
    any other grant counts as ``other``, so that a client cannot invent new series. Called at start-up
    by the app that owns the grant types (this one knows none)."""
    _grants.update(grant_types)


def token_issued(grant: str | None) -> None:
    _child(TOKENS_ISSUED, grant if grant in _grants else "other").inc()


def tool_called(tool: str, outcome: str) -> None:
    _child(TOOL_CALLS, tool, outcome).inc()


def auth_failed(reason: str) -> None:
    _child(AUTH_FAILURES, reason).inc()


def audit_dropped(count: int) -> None:
    AUDIT_DROPPED.inc(count)


def render() -> tuple[bytes, str]:
    """The text exposition of every metric (all workers' values merged) and its content type."""
    directory = conf.get("METRICS_DIR")
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST

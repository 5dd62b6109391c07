"""The Prometheus metrics and their exposition; multiprocess-aware (gunicorn and granian workers).

prometheus_client decides at import time, from ``PROMETHEUS_MULTIPROC_DIR``, whether values live in
per-process memory-mapped files; the serving command sets and empties that directory before the
workers start, and ``render()`` then merges every worker's files.
"""

from __future__ import annotations

import threading

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

_children: dict[tuple, tuple] = {}
_children_lock = threading.Lock()


def _request_children(route: str, method: str, status: int) -> tuple:
    """The (counter, histogram) children for one label set, looked up once per process.

    ``labels()`` takes a lock and builds a tuple key on every call; the hot path saves that.
    """
    key = (route, method, status)
    children = _children.get(key)
    if children is None:
        with _children_lock:
            children = (REQUESTS.labels(route, method, str(status)), LATENCY.labels(route))
            _children[key] = children
    return children


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency (any other method counts as OTHER: labels stay few)."""
    counter, histogram = _request_children(route, method if method in METHODS else "OTHER", status)
    counter.inc()
    histogram.observe(seconds)


def token_issued(grant: str) -> None:
    TOKENS_ISSUED.labels(grant).inc()


def tool_called(tool: str, outcome: str) -> None:
    TOOL_CALLS.labels(tool, outcome).inc()


def auth_failed(reason: str) -> None:
    AUTH_FAILURES.labels(reason).inc()


def render() -> tuple[bytes, str]:
    """The text exposition of every metric (all workers' values merged) and its content type."""
    directory = conf.get("METRICS_DIR")
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST

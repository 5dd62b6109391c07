"""Signal receivers that turn the other apps' events into metrics; connected in ``AppConfig.ready()``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_login_failed
from oauth2_provider.signals import app_authorized

from mcpserver import signals as mcp_signals

from . import metrics, reasons


def on_token_issued(sender: Any, request: Any = None, **kwargs: Any) -> None:
    # A grant type nobody named to ``metrics.count_grants`` counts as "other".
    metrics.token_issued(request.POST.get("grant_type") if request is not None else None)


def on_capability_used(sender: Any, kind: str = "", name: str = "", outcome: str = "", **kwargs: Any) -> None:
    if kind == "tool":  # names come from the registry (unknown tools are refused before the audit)
        metrics.tool_called(name, outcome)


def on_access_refused(sender: Any, error: Exception | None = None, **kwargs: Any) -> None:
    metrics.auth_failed(reasons.refusal_reason(error))


def on_audit_dropped(sender: Any, count: int = 0, **kwargs: Any) -> None:
    metrics.audit_dropped(count)


def on_login_failed(sender: Any, **kwargs: Any) -> None:
    metrics.auth_failed("user_credentials")


def connect() -> None:
    app_authorized.connect(on_token_issued, dispatch_uid="observability-token-issued")
    mcp_signals.capability_used.connect(on_capability_used, dispatch_uid="observability-capability-used")
    mcp_signals.access_refused.connect(on_access_refused, dispatch_uid="observability-access-refused")
    mcp_signals.audit_records_dropped.connect(on_audit_dropped, dispatch_uid="observability-audit-dropped")
    user_login_failed.connect(on_login_failed, dispatch_uid="observability-login-failed")

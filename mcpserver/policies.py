"""Admins' tool overrides (``ToolPolicy``) applied to tool definitions, cached per process briefly."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

from django.db import DatabaseError

from . import conf
from .definitions import Tool

logger = logging.getLogger(__name__)

_cache: dict = {"loaded_at": None, "overrides": {}}
_lock = threading.Lock()


def overrides() -> dict:
    """Every ToolPolicy by tool name, re-read at most every ``POLICY_CACHE_SECONDS``."""
    if _fresh():
        return _cache["overrides"]
    from .models import ToolPolicy

    with _lock:
        if not _fresh():  # the threads that found it stale together: the first one reads it
            try:
                _cache["overrides"] = ToolPolicy.objects.all().overrides()
            except DatabaseError:  # e.g. before migrations: serve the tools' own policy
                logger.warning("Could not read tool policies; using the tools' own", exc_info=True)
            _cache["loaded_at"] = time.monotonic()
    return _cache["overrides"]


def _fresh() -> bool:
    loaded_at = _cache["loaded_at"]
    return loaded_at is not None and time.monotonic() - loaded_at < conf.get("POLICY_CACHE_SECONDS")


def forget() -> None:
    _cache["loaded_at"] = None


def effective(tool: Tool) -> Tool | None:
    """The tool as an admin configured it, or None when it is switched off."""
    policy = overrides().get(tool.name)
    if policy is None:
        return tool
    if not policy.enabled:
        return None
    scopes, roles = policy.scope_list(), policy.role_list()
    return dataclasses.replace(
        tool, scopes=tool.scopes if scopes is None else scopes, roles=tool.roles if roles is None else roles
    )

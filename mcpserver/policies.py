"""Admins' tool overrides (``ToolPolicy``) applied to tool definitions, kept per process until they change.

The overrides are kept under a stamp of the ``tool-policies`` change feed (``sharedstate.stamps``):
every save or delete of a ``ToolPolicy`` announces a change, so every worker of every instance reads
them afresh on its next request. Without a change feed (Redis unreachable, a database other hosts
share without Redis) they are re-read at most every ``POLICY_CACHE_SECONDS`` instead; edits made
behind the models' back (``QuerySet.update()``, SQL) are announced by nobody and wait for a restart,
or the next announced edit, where there is a feed. Every save or delete also publishes a tools
list change (``notifications``): streams whose caller now sees other tools tell their client.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

from django.db import DatabaseError
from django.db.models.signals import post_delete, post_save

import sharedstate
from sharedstate.stamps import Stamp

from . import conf, notifications
from .definitions import Tool

logger = logging.getLogger(__name__)

TOPIC = "tool-policies"

_kept: dict = {"stamp": None, "overrides": {}}  # the overrides, and the stamp taken before reading them
_lock = threading.Lock()


def overrides() -> dict:
    """Every ToolPolicy by tool name, as of the last announced change (or ``POLICY_CACHE_SECONDS``)."""
    if _fresh():
        return _kept["overrides"]
    from .models import ToolPolicy

    with _lock:
        if not _fresh():  # the threads that found it stale together: the first one reads it
            now = Stamp.take(TOPIC)
            try:
                _kept["overrides"] = ToolPolicy.objects.all().overrides()
            except DatabaseError:  # e.g. before migrations: serve the tools' own policy
                logger.warning("Could not read tool policies; using the tools' own", exc_info=True)
            _kept["stamp"] = now
    return _kept["overrides"]


def _fresh() -> bool:
    kept = _kept["stamp"]
    return kept is not None and kept.holds(TOPIC, without_feed=conf.get("POLICY_CACHE_SECONDS"))


def policies_changed(sender=None, using=None, **kwargs) -> None:
    """A tool policy was saved or deleted: every process reads them afresh on its next request.

    An announcement that fails raises (Redis unreachable: an outage), and the admin's save is rolled
    back with it: a worker with a working feed would otherwise keep a tool an admin switched off.
    """
    _kept["stamp"] = None
    sharedstate.changed(TOPIC, using=using)
    notifications.lists_changed("tools")


def connect() -> None:
    from .models import ToolPolicy

    post_save.connect(policies_changed, sender=ToolPolicy, dispatch_uid="mcpserver-tool-policies-saved")
    post_delete.connect(policies_changed, sender=ToolPolicy, dispatch_uid="mcpserver-tool-policies-deleted")


def effective(tool: Tool, kept: dict | None = None) -> Tool | None:
    """The tool as an admin configured it, or None when it is switched off. ``kept``: the overrides
    this request read already (a listing reads them once, not once per tool)."""
    policy = (overrides() if kept is None else kept).get(tool.name)
    if policy is None:
        return tool
    if not policy.enabled:
        return None
    scopes, roles = policy.scope_list(), policy.role_list()
    return dataclasses.replace(
        tool, scopes=tool.scopes if scopes is None else scopes, roles=tool.roles if roles is None else roles
    )

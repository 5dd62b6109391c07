"""Server notifications across instances: what changed, published once, read by every open stream.

A change is appended to one shared log (``sharedstate`` logs, ``LOG``), which keeps the last
``NOTIFICATION_BUFFER`` events: ``resource_updated(uri)`` (an app's data behind a resource changed) and
``lists_changed(*families)`` (what callers may see of tools, prompts or resources changed). Each open
notification stream (the 2025 GET stream, ``transport.listening``) reads the log from its own position
on whichever instance serves it and turns an event into the notifications its listener asked for
(``for_listener``): ``notifications/resources/updated`` for a URI the session subscribed to,
``notifications/<family>/list_changed`` when the listener's view of that family changed. The event's
log id is the SSE event id, so a client that reconnects anywhere resumes after the last one it saw.

Publishing waits for the current transaction to commit (a subscriber that reads the resource at once
sees the change), and a failure to publish is logged, never raised into the writer's save.

Subscriptions (2025 ``resources/subscribe``) are kept in the session's state: at most
``MAX_SUBSCRIPTIONS`` URIs per session (and per listen stream), each at most ``MAX_URI_LENGTH`` long.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction

import sharedstate

from . import conf, jsonrpc, sessions

logger = logging.getLogger(__name__)

LOG = "mcp-notifications"
FAMILIES = ("tools", "prompts", "resources")
MAX_SUBSCRIPTIONS = 100
MAX_URI_LENGTH = 2048  # a session's subscriptions are read with it on every request


def resource_updated(uri: str) -> None:
    """Tell every session subscribed to ``uri`` that the resource changed (once the transaction commits)."""
    _publish({"resource": str(uri)})


def lists_changed(*families: str) -> None:
    """Tell every listener whose view of these families (``tools``, ``prompts``, ``resources``) changed."""
    unknown = set(families) - set(FAMILIES)
    if unknown:
        raise ValueError(f"Unknown families: {', '.join(sorted(unknown))}")
    _publish({"lists": sorted(set(families))})


def _publish(event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: _append(event), robust=True)


def _append(event: dict[str, Any]) -> None:
    try:
        sharedstate.append(LOG, event, keep=conf.get("NOTIFICATION_BUFFER"), ttl=conf.get("SESSION_TTL"))
    except Exception:  # an outage: the notification is lost, the writer's change is not
        logger.warning("Could not publish a notification (%s)", sorted(event), exc_info=True)


# --- subscriptions (2025) ---------------------------------------------------------------------------


def subscribe(session_id: str, state: dict[str, Any], uri: str) -> bool:
    """Add ``uri`` to the session's subscriptions; False when it holds ``MAX_SUBSCRIPTIONS`` already."""
    current = list(state.get("subscriptions") or [])
    if uri in current:
        return True
    if len(current) >= MAX_SUBSCRIPTIONS:
        return False
    sessions.update(session_id, subscriptions=[*current, uri])
    return True


def unsubscribe(session_id: str, state: dict[str, Any], uri: str) -> None:
    current = list(state.get("subscriptions") or [])
    if uri in current:
        sessions.update(session_id, subscriptions=[item for item in current if item != uri])


# --- reading ----------------------------------------------------------------------------------------


def for_listener(
    event: dict[str, Any], subscriptions: Iterable[str], changed_families: Iterable[str]
) -> list[dict[str, Any]]:
    """The notifications one event means for a listener subscribed to ``subscriptions`` whose view of
    ``changed_families`` moved with this event (the stream works that out: ``views``)."""
    uri = event.get("resource")
    if isinstance(uri, str):
        if uri in subscriptions:
            return [jsonrpc.notification("notifications/resources/updated", {"uri": uri})]
        return []
    return [jsonrpc.notification(f"notifications/{family}/list_changed", {}) for family in changed_families]


def families_of(event: dict[str, Any]) -> list[str]:
    """The families a list-changed event names (none for any other event)."""
    lists = event.get("lists")
    return [family for family in lists if family in FAMILIES] if isinstance(lists, list) else []

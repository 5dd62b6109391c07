"""``resources/subscribe`` and ``resources/unsubscribe`` (the 2025 handshake era): a session asks to be
told (on its GET stream, ``transport.listening``) when a resource changes; ``subscriptions/listen``
(2026-07-28): a request asks for a stream of the notifications its filter names.

A subscription needs ``READ_SCOPE`` and a session, and names a resource this caller may use: one
registered at that URI, or a URI a template matches (the resource itself is not read: a note that
does not exist yet may be subscribed to). Anything else is invalid params, as for ``resources/read``.
Unsubscribing from a URI the session never subscribed to succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import conf, notifications, sessions
from ..exceptions import InvalidParams, InvalidRequest, SessionNotFound
from .context import Context, allowed


def _uri(ctx: Context) -> str:
    uri = ctx.params.get("uri")
    if not isinstance(uri, str) or not uri or len(uri) > notifications.MAX_URI_LENGTH:
        raise InvalidParams(f"A uri string of at most {notifications.MAX_URI_LENGTH} characters is needed")
    ctx.token.require([conf.get("READ_SCOPE")])
    if ctx.session_id is None:
        raise InvalidRequest(
            "Subscriptions belong to a session: initialize first and send its Mcp-Session-Id"
        )
    return uri


def _session_state(ctx: Context) -> dict[str, Any]:
    state = sessions.load(ctx.session_id, ctx.token)
    if state is None:
        raise SessionNotFound()
    return state


def _usable(ctx: Context, uri: str) -> bool:
    """Whether ``uri`` is a resource, or matches a template, that this caller may read."""
    resource = ctx.registry.get("resource", uri)
    if resource is None:
        found = ctx.registry.find_template(uri)
        resource = found[0] if found is not None else None
    return resource is not None and allowed(ctx, resource)


def resources_subscribe(ctx: Context) -> dict[str, Any]:
    uri = _uri(ctx)
    if not _usable(ctx, uri):
        raise InvalidParams(f"Unknown resource: {uri}", data={"uri": uri})
    if not notifications.subscribe(ctx.session_id, _session_state(ctx), uri):
        raise InvalidParams(
            f"A session may hold at most {notifications.MAX_SUBSCRIPTIONS} subscriptions", data={"uri": uri}
        )
    return {}


def resources_unsubscribe(ctx: Context) -> dict[str, Any]:
    uri = _uri(ctx)
    notifications.unsubscribe(ctx.session_id, _session_state(ctx), uri)
    return {}


# --- 2026-07-28: subscriptions/listen ---------------------------------------------------------------

SUBSCRIPTION_ID_KEY = "io.modelcontextprotocol/subscriptionId"
# The list changes a listen request may ask for that this server sends, by filter field.
LIST_FILTERS = {"toolsListChanged": "tools"}
RESOURCE_FILTER = "resourceSubscriptions"


@dataclass(frozen=True)
class Listen:
    """What a ``subscriptions/listen`` request will hear: list changes of ``families`` and updates of
    ``uris``; ``transport.listening`` streams it."""

    families: tuple[str, ...]
    uris: tuple[str, ...]

    def agreed(self) -> dict[str, Any]:
        """The filter the server agreed to honour (the acknowledgement's ``notifications``)."""
        agreed: dict[str, Any] = {
            key: True for key, family in LIST_FILTERS.items() if family in self.families
        }
        if self.uris:
            agreed[RESOURCE_FILTER] = list(self.uris)
        return agreed


def subscriptions_listen(ctx: Context) -> Listen:
    """The filter of a listen request, narrowed to what this server sends and this caller may read:
    list changes it offers, and resources (``READ_SCOPE``) the caller may use; other URIs are left out
    of the agreement, as are filter fields this server does not send."""
    wanted = ctx.params.get("notifications")
    if not isinstance(wanted, dict):
        raise InvalidParams("subscriptions/listen needs a notifications object")
    uris = wanted.get(RESOURCE_FILTER) or []
    if not isinstance(uris, list) or not all(
        isinstance(uri, str) and len(uri) <= notifications.MAX_URI_LENGTH for uri in uris
    ):
        raise InvalidParams(
            f"notifications.{RESOURCE_FILTER} must be an array of URIs of at most "
            f"{notifications.MAX_URI_LENGTH} characters"
        )
    if len(uris) > notifications.MAX_SUBSCRIPTIONS:
        raise InvalidParams(f"At most {notifications.MAX_SUBSCRIPTIONS} resource subscriptions per stream")
    if uris:
        ctx.token.require([conf.get("READ_SCOPE")])
    families = tuple(family for key, family in LIST_FILTERS.items() if wanted.get(key) is True)
    return Listen(families, tuple(dict.fromkeys(uri for uri in uris if _usable(ctx, uri))))

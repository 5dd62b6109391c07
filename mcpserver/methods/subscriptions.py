"""``resources/subscribe`` and ``resources/unsubscribe`` (the 2025 handshake era): a session asks to be
told (on its GET stream, ``transport.listening``) when a resource changes.

A subscription needs ``READ_SCOPE`` and a session, and names a resource this caller may use: one
registered at that URI, or a URI a template matches (the resource itself is not read: a note that
does not exist yet may be subscribed to). Anything else is invalid params, as for ``resources/read``.
Unsubscribing from a URI the session never subscribed to succeeds.
"""

from __future__ import annotations

from typing import Any

from .. import conf, notifications, sessions
from ..exceptions import InvalidParams, InvalidRequest, SessionNotFound
from .context import Context, allowed


def _uri(ctx: Context) -> str:
    uri = ctx.params.get("uri")
    if not isinstance(uri, str) or not uri:
        raise InvalidParams("A uri string is needed")
    ctx.token.require([conf.get("READ_SCOPE")])
    if ctx.session_id is None:
        raise InvalidRequest("Subscriptions belong to a session: initialize first and send its Mcp-Session-Id")
    return uri


def _session_state(ctx: Context) -> dict[str, Any]:
    state = sessions.load(ctx.session_id, ctx.token)
    if state is None:
        raise SessionNotFound()
    return state


def resources_subscribe(ctx: Context) -> dict[str, Any]:
    uri = _uri(ctx)
    resource = ctx.registry.get("resource", uri)
    if resource is None:
        found = ctx.registry.find_template(uri)
        resource = found[0] if found is not None else None
    if resource is None or not allowed(ctx, resource):
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

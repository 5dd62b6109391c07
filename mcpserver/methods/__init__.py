"""The MCP methods and the dispatch tables of the two protocol eras.

One small function per method, grouped by area: ``lifecycle`` (versions, ``server/discover``,
``initialize``, ``ping``, ``logging/setLevel``), ``tools``, ``prompts`` (with ``completion/complete``),
``resources``, ``tasks`` (2026-07-28), ``subscriptions`` (2025 ``resources/subscribe`` and
``resources/unsubscribe``, 2026-07-28 ``subscriptions/listen``). Each takes the request's
``context.Context`` and returns a result dict, a ``context.Stream`` that the transport writes as it is
produced, or (``tools/call``, ``prompts/get`` and ``resources/read`` in the 2026-07-28 era) an
``interaction.rounds.Incomplete`` input-required answer (``tools/call``: also a ``tasks.Created`` task
handle); ``subscriptions/listen`` returns the ``subscriptions.Listen`` filter that ``transport.listening``
streams.
``MODERN`` (2026-07-28) and ``LEGACY`` (the 2025 handshake era) map a method name to its ``Method``;
a name in neither is unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..interaction.rounds import Incomplete
from .context import Context, Stream
from .lifecycle import discover, initialize, ping, set_level
from .prompts import complete, prompts_get, prompts_list
from .resources import resources_list, resources_read, templates_list
from .subscriptions import resources_subscribe, resources_unsubscribe, subscriptions_listen
from .tasks import tasks_cancel, tasks_get, tasks_update
from .tools import tools_call, tools_list


@dataclass(frozen=True)
class Method:
    """How a method is answered: its handler, for a cacheable one the ``cacheScope`` and the setting of
    the ``ttlMs`` that its 2026-07-28 results carry, and whether it may ask the client something."""

    handler: Callable[[Context], dict[str, Any] | Incomplete | Stream]
    cache_scope: str | None = None  # 2026-07-28 results of cacheable methods carry ttlMs and cacheScope
    ttl_setting: str = "LIST_TTL_MS"
    may_ask: bool = False  # whether it may send requests to the client (transport.interactive)
    listens: bool = False  # answered with a notification stream (transport.listening)


_SHARED = {
    "tools/list": Method(tools_list, "private"),
    "tools/call": Method(tools_call, may_ask=True),
    "prompts/list": Method(prompts_list, "private"),
    "prompts/get": Method(prompts_get),
    "resources/list": Method(resources_list, "private"),
    "resources/templates/list": Method(templates_list, "private"),
    "resources/read": Method(resources_read, "private"),
    "completion/complete": Method(complete),
}

MODERN: dict[str, Method] = {
    "server/discover": Method(discover, "public", "DISCOVER_TTL_MS"),
    "subscriptions/listen": Method(subscriptions_listen, listens=True),
    **_SHARED,
    # The io.modelcontextprotocol/tasks extension (2026-07-28 only; its tasks/result and tasks/list are gone).
    "tasks/get": Method(tasks_get),
    "tasks/update": Method(tasks_update),
    "tasks/cancel": Method(tasks_cancel),
}
LEGACY: dict[str, Method] = {
    "initialize": Method(initialize),
    "ping": Method(ping),
    "logging/setLevel": Method(set_level),
    "resources/subscribe": Method(resources_subscribe),
    "resources/unsubscribe": Method(resources_unsubscribe),
    **_SHARED,
}

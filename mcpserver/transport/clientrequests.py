"""Server-to-client requests of the 2025 handshake era (``elicitation/create``,
``sampling/createMessage``, ``roots/list``), sent on the SSE stream of the client's POST.

This module is a placeholder with the final signature: the implementation that sends the request on
the call's stream and waits for the client's response replaces it. Until then no client can be asked.
"""

from __future__ import annotations

from typing import Any

from ..interaction.questions import ClientCannot

_CAPABILITIES = {
    "elicitation/create": "elicitation",
    "sampling/createMessage": "sampling",
    "roots/list": "roots",
}


def ask(ctx: Any, method: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send ``method`` with ``params`` to the client of ``ctx``'s call and return its result, waiting at
    most ``timeout`` seconds (``math.inf``: no deadline); ``ClientCannot`` when the client cannot be asked
    (here: always)."""
    raise ClientCannot(
        _CAPABILITIES.get(method, method),
        f"This server cannot send {method} to 2025-era clients yet; a 2026-07-28 client can be asked",
    )

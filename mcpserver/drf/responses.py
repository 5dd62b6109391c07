"""A ViewSet action's HTTP response as a tool result, or as the error the caller may read.

- 2xx: the data. An object is the ``structuredContent``; a list, or a page of one, is
  ``{"items": [...]}`` with ``nextCursor`` while more pages follow; no data is a line of text.
- 400: a tool error naming each field and DRF's message, ``Invalid arguments: arguments.title: ...``.
- 401 and 403 about an object (retrieve, update, destroy, a detail ``@action``): ``Not found: notes/<id>``,
  as for a 404, so that a refusal never tells that the object exists. Audited as denied, with DRF's reason.
- 401 and 403 otherwise (list, create): ``Forbidden: notes_create``, audited as denied.
- 404: ``Not found: notes/<id>`` (a page a cursor names that is gone: ``Invalid cursor``).
- Another 4xx: a tool error with DRF's ``detail``.
- 5xx: none of it reaches the caller. The call fails as any failing tool does (``The tool 'notes_list'
  failed.``), and the log has the response. So does a 2xx whose data the published output schema
  denies (a list where drf-spectacular saw an object), which MCP clients would refuse.
"""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response

from .. import results
from ..definitions import Forbidden, NotFound, ToolError
from . import cursors
from .serializers import json_ready, reasons


class Refused(Forbidden):
    """A refusal that names no object (a list or a create): told as ``Forbidden: <what>``, audited as
    denied with ``reason``."""

    def __init__(self, what: str, reason: str = "") -> None:
        super().__init__(what, reason)
        self.args = (f"Forbidden: {what}",)


class ActionFailed(Exception):
    """A ViewSet answered a server error, or data its published output schema denies: the tool fails,
    logged, telling the caller nothing of it."""


def success(
    response: Response, name: str, what: str, listing: bool | None, paged_names: frozenset[str] | None
) -> dict[str, Any]:
    """The result of a 2xx response. ``listing``: whether the published output schema is a list
    (``{"items": ...}``), an object (False) or absent (None); ``paged_names``: the query parameters a
    cursor may carry (None when the action is not paginated)."""
    data = response.data
    if data is None:
        return {"content": [results.text(f"Done: {what}.")]}
    paged = paged_names is not None and isinstance(data, dict) and isinstance(data.get("results"), list)
    if listing is not None and listing != (paged or isinstance(data, list)):
        # drf-spectacular's schema says otherwise (an @action without @extend_schema(responses=...)).
        published = "a list" if listing else "an object"
        raise ActionFailed(
            f"{name} answered {type(data).__name__} data, but its output schema is {published}"
        )
    if isinstance(data, list):
        return results.structured({"items": json_ready(data)})
    if paged:
        page: dict[str, Any] = {"items": json_ready(data["results"])}
        following = cursors.encode(data.get("next"), paged_names or ())
        if following:
            page["nextCursor"] = following
        return results.structured(page)
    if isinstance(data, dict):
        return results.structured(json_ready(data))
    return {"content": [results.text(str(json_ready(data)))]}


def failure(response: Response, name: str, what: str, on_object: bool, paged: bool) -> Exception:
    """The exception that tells the caller why the action failed (see the table above)."""
    status, data = response.status_code, response.data
    if status == 400:
        return ToolError(f"Invalid arguments: {reasons(data)}")
    if status in (401, 403):
        reason = _detail(data) or f"HTTP {status}"
        return Forbidden(what, reason) if on_object else Refused(name, reason)
    if status == 404:
        return ToolError(f"Invalid arguments: {cursors.INVALID}") if paged else NotFound(what)
    if status < 500:
        return ToolError(_detail(data) or f"The tool {name!r} was refused (HTTP {status}).")
    return ActionFailed(f"{name} answered HTTP {status}: {data!r}")


def _detail(data: Any) -> str:
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])
    return reasons(data) if data else ""

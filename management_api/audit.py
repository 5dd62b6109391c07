"""Every write through the management API, recorded in the Django admin's history (``LogEntry``).

An entry names the acting user, the object, what was done and, for a token, the client it was issued
to; it shows on the object's History page in the admin next to the admin's own edits.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType

from mcpserver.auth import AccessToken

__all__ = ["ADDITION", "CHANGE", "DELETION", "record"]


def record(
    request: Any, obj: Any, action_flag: int, message: str, object_repr: str | None = None
) -> LogEntry:
    """Log one write by the request's user on ``obj`` (before a deletion, while it still has its key)."""
    token = request.auth
    via = "the management API"
    if isinstance(token, AccessToken):
        via += f", client {token.client_id}"
    return LogEntry.objects.create(
        user_id=request.user.pk,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
        object_repr=(object_repr if object_repr is not None else str(obj))[:200],
        action_flag=action_flag,
        change_message=f"{message} (through {via}).",
    )

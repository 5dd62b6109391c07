"""Who may use the management API: ``admin:read`` to read and ``admin:write`` to change anything.

By token: a user's token carrying the scope (such scopes are ``role_only``: a token carries them only
when its user's roles grant them). By the admin's session (the browsable API): an active staff user
whose roles grant the same scope. A client acting for itself is never let in: every write is recorded
under a user in the admin's history.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS

from mcpserver.auth import AccessToken
from mcpserver.rest import HasScopes

READ = "admin:read"
WRITE = "admin:write"


class AdminScopes(HasScopes):
    """``admin:read`` for GET, HEAD and OPTIONS; ``admin:write`` for everything else."""

    def required(self, request: Any, view: Any) -> list[str]:
        return [READ] if request.method in SAFE_METHODS else [WRITE]

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if getattr(user, "pk", None) is None:  # anonymous (a 401), or a client acting for itself
            self.message = "The management API needs a user; a client acting for itself may not use it."
            return False
        if isinstance(request.auth, AccessToken):
            return super().has_permission(request, view)
        needed = self.required(request, view)
        self.message = f"The admin session needs a staff user whose roles grant {' '.join(needed)}."
        return user.is_active and user.is_staff and set(needed) <= user.scope_names()

"""The objects behind an access token this server issued, for the MCP server's ``ctx.user`` and
``ctx.client`` (``MCPSERVER["CALLER_LOADER"]``): the user is the token's subject (its primary key),
the client the DOT application of its ``client_id``. One query each, made only when asked."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from oauth2_provider.models import get_application_model


class CallerLoader:
    def user(self, token: Any) -> Any:
        """The active user a user token was issued to; None for a client's own token (its subject is
        its client id, RFC 9068 §2.2) or a user who is gone or deactivated."""
        if token.subject == token.client_id:
            return None
        try:
            return get_user_model().objects.filter(pk=token.subject, is_active=True).first()
        except (ValueError, ValidationError):  # a subject that is no primary key of ours
            return None

    def client(self, token: Any) -> Any:
        return get_application_model().objects.filter(client_id=token.client_id).first()

"""Who is calling, as Django objects: ``ctx.user`` and ``ctx.client`` come from the loader named by
``MCPSERVER["CALLER_LOADER"]``, asked only when a capability function reads them (the ``/mcp`` path
itself makes no query for them).

A loader is any class with ``user(token)`` and ``client(token)``, each returning an object or None;
``token`` is the verified ``auth.AccessToken``. The issuer's app provides the default
(``authserver.callers.CallerLoader``); ``ClaimsLoader`` serves tokens of another issuer (an entry of
``TRUSTED_ISSUERS``, or ``KEY_SOURCE`` naming an external JWKS), where only the username claim (the
path that issuer's ``claims.username`` names, ``preferred_username`` for Keycloak) names a local user.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.module_loading import import_string

from . import conf, issuers


def acts_for_itself(token: Any) -> bool:
    """RFC 9068 §2.2: a token a client obtained for itself (client credentials) has the client as subject."""
    return token.subject == token.client_id


class ClaimsLoader:
    """The active local user whose username the token carries; no client objects."""

    def user(self, token: Any) -> Any:
        if acts_for_itself(token) or not token.username:
            return None
        model = get_user_model()
        try:
            # The natural-key lookup ModelBackend uses (the default manager is Django's documented API).
            user = model._default_manager.get_by_natural_key(token.username)
        except model.DoesNotExist:
            return None
        return user if getattr(user, "is_active", True) else None

    def client(self, token: Any) -> Any:
        return None


@functools.cache
def _instance(path: str) -> Any:
    return import_string(path)()


def loader(token: Any = None) -> Any:
    """The loader for ``token``'s issuer: a trusted issuer's ``caller_loader`` (``ClaimsLoader`` unless
    configured), else ``CALLER_LOADER`` (this server's issuer). One instance per dotted path and process."""
    issuer = issuers.find(getattr(token, "issuer", None))
    path = issuer.caller_loader if issuer is not None and issuer.caller_loader else None
    return _instance(path or conf.get("CALLER_LOADER"))

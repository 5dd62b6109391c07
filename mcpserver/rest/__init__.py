"""Django REST framework classes for this server's access tokens: the same token works for a REST API.

Two lines protect a DRF view::

    from mcpserver.rest import BearerAuthentication, HasScopes

    class NoteList(generics.ListAPIView):
        authentication_classes = [BearerAuthentication]
        permission_classes = [HasScopes("notes:read")]

``BearerAuthentication`` verifies tokens exactly as ``/mcp`` does (``mcpserver.auth``: signature, issuer,
expiry, the revocation deny-list on every request), with the audience ``MCPSERVER["REST_AUDIENCE"]``
(default: ``RESOURCE_URL``). ``request.auth`` is the ``mcpserver.auth.AccessToken``; ``request.user``
is the token's user, or a ``ServicePrincipal`` for a client acting on its own behalf.
``HasScopes`` and ``HasRole`` check the token's scopes and roles.
"""

from .authentication import BearerAuthentication, ServicePrincipal
from .permissions import HasRole, HasScopes, InsufficientScope

__all__ = ["BearerAuthentication", "HasRole", "HasScopes", "InsufficientScope", "ServicePrincipal"]

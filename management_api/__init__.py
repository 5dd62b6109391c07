"""The management API (``/api/v1/``): users, roles, scopes, clients, tokens, consents, signing keys,
initial access tokens, tool policies and the audit trail, for this server's own tokens with
``admin:read`` / ``admin:write`` and for the admin session of a staff user whose roles grant the same
scopes; rate-limited per user (``throttling``).

Views are thin: they translate HTTP into the calls the Django admin's actions make (``authserver.clients``,
``authserver.keys``, ``authserver.revoking``, ``authserver.consents``), and record every write in the
admin's history (``audit``). The OpenAPI 3 schema is ``/api/schema/``, its Swagger UI ``/api/docs/``.
"""

"""The MCP resource server (``mcpserver``): ``MCPSERVER``, read at call time through ``mcpserver.conf``.

Everything the MCP server needs is here; it never imports authserver. KEY_SOURCE is a dotted path to
a callable returning a JWKS dict (in-process, the default) or the JWKS URL of an external issuer.
"""

import json

from django.core.exceptions import ImproperlyConfigured

from .data import TOKEN_REVOCATION_PREFIX
from .env import MCP_RESOURCE_URL, OAUTH_ISSUER, env, env_bool, env_int, env_list


def _json_list(name: str) -> list:
    """A variable holding JSON: one object or a list of them (empty: an empty list)."""
    value = env(name)
    try:
        parsed = json.loads(value) if value else []
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not valid JSON: {exc}") from None
    return [parsed] if isinstance(parsed, dict) else parsed


_MCP_KEY_SOURCE = env("MCP_KEY_SOURCE", "authserver.keys.jwks")
_EXTERNAL_ISSUER = "://" in _MCP_KEY_SOURCE
_CALLER_LOADER = "mcpserver.callers.ClaimsLoader" if _EXTERNAL_ISSUER else "authserver.callers.CallerLoader"
MCPSERVER = {
    "ISSUER": OAUTH_ISSUER,
    "RESOURCE_URL": MCP_RESOURCE_URL,
    "RESOURCE_NAME": env("MCP_RESOURCE_NAME", "MCP server"),
    # The token audience the REST API (mcpserver.rest) accepts; unset: the MCP resource URL.
    "REST_AUDIENCE": env("REST_API_AUDIENCE") or None,
    "KEY_SOURCE": _MCP_KEY_SOURCE,
    # Other issuers whose tokens /mcp accepts (mcpserver.issuers), e.g. a Keycloak realm:
    # MCP_TRUSTED_ISSUERS='{"issuer": "https://sso.example.com/realms/acme", "preset": "keycloak"}'
    "TRUST_OWN_ISSUER": env_bool("MCP_TRUST_OWN_ISSUER", True),
    "TRUSTED_ISSUERS": _json_list("MCP_TRUSTED_ISSUERS"),
    # ctx.user / ctx.client: this project's users and clients, unless tokens come from another issuer.
    "CALLER_LOADER": _CALLER_LOADER,
    "REVOCATION_PREFIX": TOKEN_REVOCATION_PREFIX,
    # Who answers "revoked?" when the shared state is down or was emptied: the in-process issuer's
    # database; an external issuer's tokens are not in it (an outage then answers 503).
    "REVOCATION_FALLBACK": None if _EXTERNAL_ISSUER else "authserver.revoking.revoked_in_database",
    # How far the issuer's clock may be from ours (token exp/iat, and tokens older than the deny-list).
    "LEEWAY_SECONDS": env_int("MCP_LEEWAY_SECONDS", 30),
    # DPoP (RFC 9449): refuse unbound tokens; require server nonces in proofs.
    "DPOP_REQUIRED": env_bool("MCP_DPOP_REQUIRED", False),
    "DPOP_NONCE_REQUIRED": env_bool("MCP_DPOP_NONCE_REQUIRED", False),
    "ALLOWED_ORIGINS": env_list("MCP_ALLOWED_ORIGINS"),
    "MAX_BODY_BYTES": env_int("MCP_MAX_BODY_BYTES", 1024 * 1024),
    "MAX_BATCH_SIZE": env_int("MCP_MAX_BATCH_SIZE", 32),
    "TOOL_TIMEOUT_SECONDS": float(env("MCP_TOOL_TIMEOUT_SECONDS", "30")),
    "MAX_INFLIGHT_PER_CALLER": env_int("MCP_MAX_INFLIGHT_PER_CALLER", 2),
    "SESSION_TTL": env_int("MCP_SESSION_TTL", 24 * 3600),
    "NOTIFICATION_BUFFER": env_int("MCP_NOTIFICATION_BUFFER", 1000),
    "NOTIFICATION_STREAM_SECONDS": env_int("MCP_NOTIFICATION_STREAM_SECONDS", 300),
    "MAX_STREAMS": env_int("MCP_MAX_STREAMS", 1),
    "MAX_STREAMS_PER_CALLER": env_int("MCP_MAX_STREAMS_PER_CALLER", 1),
    "INPUT_STATE_SECONDS": env_int("MCP_INPUT_STATE_SECONDS", 600),
    "TASK_RETENTION_SECONDS": env_int("MCP_TASK_RETENTION_SECONDS", 3600),
    "TASK_TIMEOUT_SECONDS": env_int("MCP_TASK_TIMEOUT_SECONDS", 3600),
    "TASK_POLL_INTERVAL_MS": env_int("MCP_TASK_POLL_INTERVAL_MS", 500),
    "PAGE_SIZE": env_int("MCP_PAGE_SIZE", 50),
    "FIXTURE_PACK": env_bool("MCP_FIXTURE_PACK"),
    "AUDIT": env_bool("MCP_AUDIT", True),
    "AUDIT_FLUSH_SECONDS": float(env("MCP_AUDIT_FLUSH_SECONDS", "1")),
    "AUDIT_BATCH_SIZE": env_int("MCP_AUDIT_BATCH_SIZE", 250),
    "AUDIT_RETENTION_DAYS": env_int("MCP_AUDIT_RETENTION_DAYS", 90),
    "AUDIT_BACKPRESSURE_SECONDS": float(env("MCP_AUDIT_BACKPRESSURE_SECONDS", "5")),
    "AUDIT_SPOOL": env_bool("MCP_AUDIT_SPOOL", True),
    "AUDIT_SPOOL_DIR": env("MCP_AUDIT_SPOOL_DIR") or None,
    # RFC 8693 token exchange for tools (ctx.exchange_token): this MCP server's confidential client at
    # the issuer, whose policy lists the APIs its tools may call for their callers.
    "TOKEN_EXCHANGE_CLIENT_ID": env("MCP_TOKEN_EXCHANGE_CLIENT_ID") or None,
    "TOKEN_EXCHANGE_CLIENT_SECRET": env("MCP_TOKEN_EXCHANGE_CLIENT_SECRET") or None,
    "TOKEN_EXCHANGE_ENDPOINT": env("MCP_TOKEN_EXCHANGE_ENDPOINT") or None,
    "TOKEN_EXCHANGE_TIMEOUT": float(env("MCP_TOKEN_EXCHANGE_TIMEOUT", "5")),
}

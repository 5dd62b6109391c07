"""The ``MCPSERVER`` settings namespace: values are read once per process and forgotten when Django's
``setting_changed`` signal says the namespace changed (``override_settings`` in tests sends it)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed

SUPPORTED_SCOPES = ["mcp:read", "mcp:tools", "mcp:prompts"]

DEFAULTS: dict[str, Any] = {
    # Who we trust and who we are: both strings are compared byte for byte.
    "ISSUER": "http://127.0.0.1:8000",
    "RESOURCE_URL": "http://127.0.0.1:8000/mcp",
    "RESOURCE_NAME": "MCP server",
    # The audience (``aud``) the DRF classes of ``mcpserver.rest`` accept; None: RESOURCE_URL, so that
    # a token issued for /mcp also works for the project's REST API.
    "REST_AUDIENCE": None,
    # A dotted path to a callable returning a JWKS dict, or an http(s) URL of a JWKS document.
    "KEY_SOURCE": "authserver.keys.jwks",
    # Whether tokens of ISSUER (keys from KEY_SOURCE) are accepted, and which other issuers' are: a
    # list of dicts (issuers.py: issuer, jwks_url, accepted_typ, audience, claims, require, preset).
    "TRUST_OWN_ISSUER": True,
    "TRUSTED_ISSUERS": [],
    "KEY_CACHE_SECONDS": 300,
    "KEY_REFRESH_INTERVAL": 5,
    "JWKS_TIMEOUT": 5,
    "LEEWAY_SECONDS": 30,
    "TOKEN_CACHE_SIZE": 10_000,
    "TOKEN_CACHE_SECONDS": 300,
    # DPoP (RFC 9449): accepted proof algorithms; how old a proof's iat may be (it may be LEEWAY_SECONDS
    # ahead); whether every proof must carry a server nonce, and how long each nonce window lasts
    # (a nonce is accepted in its window and the next).
    "DPOP_ALGORITHMS": ["ES256", "RS256", "PS256"],
    "DPOP_REQUIRED": False,  # True: only DPoP-bound tokens are accepted (PRM: bound tokens required)
    "DPOP_PROOF_LIFETIME": 60,
    "DPOP_NONCE_REQUIRED": False,
    "DPOP_NONCE_SECONDS": 300,
    "REVOCATION_PREFIX": None,  # None: the project-wide TOKEN_REVOCATION_PREFIX
    # A dotted path to a callable(checksum) -> revoked?, asked when the shared state is unreachable or
    # was emptied (the issuer's own records); None: an unreachable shared state refuses requests (503).
    "REVOCATION_FALLBACK": None,
    # Scopes: what each family of operations needs, and what the metadata advertises.
    "SCOPES_SUPPORTED": SUPPORTED_SCOPES,
    "READ_SCOPE": "mcp:read",
    "TOOLS_SCOPE": "mcp:tools",
    "PROMPTS_SCOPE": "mcp:prompts",
    # Transport.
    "ALLOWED_ORIGINS": [],  # the resource URL's own origin is always allowed
    "ALLOW_LOOPBACK_ORIGINS": True,  # a loopback server also accepts any loopback origin (any port)
    "MAX_BODY_BYTES": 1024 * 1024,
    "MAX_JSON_DEPTH": 64,
    # Denial of service: a 2025-03-26 batch larger than this is refused whole (-32600); every tool call
    # gets this many seconds (a batch shares one such deadline); one caller (token subject) may have
    # this many /mcp requests in flight per worker process, fewer than its threads (429 beyond).
    "MAX_BATCH_SIZE": 32,
    "TOOL_TIMEOUT_SECONDS": 30,
    "MAX_INFLIGHT_PER_CALLER": 2,
    "SESSION_TTL": 24 * 3600,
    # Notifications (2025 GET stream): how many events the shared log keeps for clients that reconnect
    # with Last-Event-ID; how long one stream lasts before the client reconnects (it holds a thread);
    # how many streams one worker process holds open, and one caller in it (429 beyond).
    "NOTIFICATION_BUFFER": 1000,
    "NOTIFICATION_STREAM_SECONDS": 300,
    "MAX_STREAMS": 1,
    "MAX_STREAMS_PER_CALLER": 1,
    "PAGE_SIZE": 50,
    "LIST_TTL_MS": 60_000,
    "DISCOVER_TTL_MS": 3_600_000,
    # Identity.
    "SERVER_NAME": "django-mcp-server",
    "SERVER_TITLE": "Django MCP server",
    "SERVER_VERSION": "0.1.0",
    "INSTRUCTIONS": None,  # None: what each scope unlocks, from the scope names above (methods.lifecycle)
    # Capabilities: modules whose @tool/@prompt/@resource definitions are registered at start-up, and
    # whether every installed app's ``mcp`` module is too (registry.build_registry).
    "CAPABILITIES": ["mcpserver.tools", "mcpserver.prompts", "mcpserver.resources"],
    "AUTODISCOVER": True,
    # Who is calling, as Django objects (ctx.user, ctx.client): a dotted path to a class with
    # ``user(token)`` and ``client(token)`` (callers.py); the issuer's app provides one.
    "CALLER_LOADER": "authserver.callers.CallerLoader",
    "FIXTURE_PACK": False,
    # Audit trail: records are buffered in memory and written in batches off the hot path.
    "AUDIT": True,
    "AUDIT_FLUSH_SECONDS": 1.0,
    # Records per transaction (a writer also wakes when this many wait). A smaller batch keeps each
    # transaction's burst of work (the writer thread's and the database's) short, so requests that
    # share the worker and the cores with it wait less; a larger one writes a little more per second.
    "AUDIT_BATCH_SIZE": 250,
    "AUDIT_BACKGROUND": True,  # False: records wait for an explicit audit.flush() (tests)
    "AUDIT_EXIT_WAIT_SECONDS": 10.0,  # at shutdown, how long buffered records wait for the database
    # Back-pressure: a record that finds the buffer full (audit.buffer.MAX_BUFFERED records not yet written)
    # waits up to this long for the writer to make room. Once the buffer has been full that long the
    # database is taken for down, not slow: records are then dropped at once (counted and reported)
    # until there is room again.
    "AUDIT_BACKPRESSURE_SECONDS": 5.0,
    # Write-ahead spool (mcpserver.audit.spool): each record is appended to a file of its process
    # before the call is answered, and the next process writes what a killed one left. The directory
    # must belong to the server's user alone; None: one per database under the system's temporary
    # directory (no spool for an in-memory SQLite database, which dies with its process).
    "AUDIT_SPOOL": True,
    "AUDIT_SPOOL_DIR": None,
    "AUDIT_RETENTION_DAYS": 90,  # manage.py prune_audit deletes records older than this
    "POLICY_CACHE_SECONDS": 5,  # without a change feed: how often tool policies are re-read (policies.py)
    # RFC 8693 token exchange for tools (ctx.exchange_token, tokenexchange.py): this MCP server's own
    # confidential client at the issuer (allowed the audiences its tools call), the token endpoint
    # (None: ISSUER + "/oauth/token/") and the longest wait for an answer.
    "TOKEN_EXCHANGE_CLIENT_ID": None,
    "TOKEN_EXCHANGE_CLIENT_SECRET": None,
    "TOKEN_EXCHANGE_ENDPOINT": None,
    "TOKEN_EXCHANGE_TIMEOUT": 5.0,
    # 2026-07-28 input-required rounds: how long a sealed requestState may be echoed back.
    "INPUT_STATE_SECONDS": 600,
    # Tasks (the io.modelcontextprotocol/tasks extension, mcpserver.tasks): how long a task and its
    # result are kept after its last change (its ttlMs; then deleted), how long a task may run, and
    # how often a client is told to poll (pollIntervalMs).
    "TASK_RETENTION_SECONDS": 3600,
    "TASK_TIMEOUT_SECONDS": 3600,
    "TASK_POLL_INTERVAL_MS": 500,
}


_values: dict[str, Any] = {}  # name -> value: what requests read skips Django's lazy settings lookup


def get(name: str) -> Any:
    """Return one MCPSERVER setting, falling back to its default."""
    try:
        return _values[name]
    except KeyError:
        value = _values[name] = getattr(settings, "MCPSERVER", {}).get(name, DEFAULTS[name])
        return value


def rest_audience() -> str:
    """The audience a token must name for the REST API (``REST_AUDIENCE``, else ``RESOURCE_URL``)."""
    return get("REST_AUDIENCE") or get("RESOURCE_URL")


def rest_audience_is_mcp() -> bool:
    """Whether the REST audience is the MCP resource, whose metadata a challenge may then point at."""
    return rest_audience() == get("RESOURCE_URL")


def revocation_prefix() -> str:
    try:
        return _values[" revocation prefix"]
    except KeyError:
        prefix = get("REVOCATION_PREFIX") or getattr(settings, "TOKEN_REVOCATION_PREFIX", "revoked-token:")
        _values[" revocation prefix"] = prefix
        return prefix


def _forget(setting: str, **kwargs: Any) -> None:
    if setting in {"MCPSERVER", "TOKEN_REVOCATION_PREFIX"}:
        _values.clear()


setting_changed.connect(_forget, dispatch_uid="mcpserver-conf")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def metadata_url() -> str:
    """RFC 9728 §3.1: the well-known suffix goes between the host and the resource's path."""
    parts = urlsplit(get("RESOURCE_URL"))
    return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{parts.path.rstrip('/')}"


def allowed_origins() -> set[str]:
    return {
        origin_of(get("RESOURCE_URL")),
        *(origin.rstrip("/").lower() for origin in get("ALLOWED_ORIGINS")),
    }


LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def origin_allowed(origin: str) -> bool:
    """An allow-listed origin; on a loopback server, also any loopback origin (DNS rebinding stays out)."""
    origin = origin.rstrip("/").lower()
    if origin in allowed_origins():
        return True
    if not get("ALLOW_LOOPBACK_ORIGINS") or urlsplit(get("RESOURCE_URL")).hostname not in LOOPBACK_HOSTS:
        return False
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and parts.hostname in LOOPBACK_HOSTS and not parts.path

"""System checks for the MCP server's configuration: a misconfiguration fails at start-up, not per request."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core import checks
from django.utils.module_loading import import_string

from . import conf, issuers

LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def _absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.netloc) and not parts.query and not parts.fragment


@checks.register(checks.Tags.security)
def check_identity(app_configs, **kwargs):
    errors = []
    issuer, resource = conf.get("ISSUER"), conf.get("RESOURCE_URL")
    if not _absolute(issuer) or issuer.endswith("/"):
        errors.append(
            checks.Error(
                f"MCPSERVER ISSUER {issuer!r} must be an absolute URL without a trailing slash.",
                id="mcpserver.E001",
            )
        )
    if _absolute(resource) and urlsplit(resource).path != "/mcp":
        errors.append(
            checks.Warning(
                f"MCPSERVER RESOURCE_URL {resource!r} does not end in /mcp, where the endpoint and its "
                "metadata are served; clients would not find them unless a proxy maps the path.",
                id="mcpserver.W002",
            )
        )
    if not _absolute(resource):
        errors.append(
            checks.Error(f"MCPSERVER RESOURCE_URL {resource!r} must be an absolute URL.", id="mcpserver.E002")
        )
    return errors


@checks.register()
def check_key_source(app_configs, **kwargs):
    source = conf.get("KEY_SOURCE")
    if isinstance(source, str) and source.startswith(("https://", "http://")):
        return []
    try:
        import_string(source)
    except ImportError:
        return [
            checks.Error(
                f"MCPSERVER KEY_SOURCE {source!r} is neither a JWKS URL nor an importable callable.",
                id="mcpserver.E003",
            )
        ]
    return []


@checks.register(checks.Tags.security)
def check_trusted_issuers(app_configs, **kwargs):
    """Each ``TRUSTED_ISSUERS`` entry parses, names an issuer once, and some issuer is trusted."""
    entries = conf.get("TRUSTED_ISSUERS") or []
    if not isinstance(entries, list | tuple):
        return [checks.Error("MCPSERVER TRUSTED_ISSUERS must be a list of dicts.", id="mcpserver.E007")]
    errors = []
    seen = {conf.get("ISSUER")} if conf.get("TRUST_OWN_ISSUER") else set()
    for number, entry in enumerate(entries):
        try:
            parsed = issuers.parse(entry)
            issuer = parsed.issuer
            import_string(parsed.caller_loader)
        except ImportError:
            message = f"caller_loader {parsed.caller_loader!r} cannot be imported"
            errors.append(
                checks.Error(f"MCPSERVER TRUSTED_ISSUERS[{number}]: {message}.", id="mcpserver.E007")
            )
        except ValueError as exc:
            errors.append(checks.Error(f"MCPSERVER TRUSTED_ISSUERS[{number}]: {exc}.", id="mcpserver.E007"))
            continue
        if (
            urlsplit(parsed.key_source).scheme == "http"
            and urlsplit(parsed.key_source).hostname not in LOOPBACK
        ):
            errors.append(
                checks.Warning(
                    f"MCPSERVER TRUSTED_ISSUERS[{number}]: jwks_url {parsed.key_source!r} is plain http: "
                    "anyone on the path could substitute the keys that verify its tokens.",
                    id="mcpserver.W003",
                )
            )
        if issuer in seen:
            errors.append(
                checks.Error(
                    f"MCPSERVER TRUSTED_ISSUERS[{number}]: issuer {issuer!r} is already trusted "
                    "(this server's ISSUER or an earlier entry).",
                    id="mcpserver.E008",
                )
            )
        seen.add(issuer)
    if not seen:
        errors.append(
            checks.Error(
                "MCPSERVER trusts no issuer (TRUST_OWN_ISSUER is false and TRUSTED_ISSUERS is empty): "
                "every token would be refused.",
                id="mcpserver.E009",
            )
        )
    return errors


@checks.register()
def check_caller_loader(app_configs, **kwargs):
    path = conf.get("CALLER_LOADER")
    try:
        loader = import_string(path)
    except ImportError:
        loader = None
    if loader is None or not all(callable(getattr(loader, name, None)) for name in ("user", "client")):
        return [
            checks.Error(
                f"MCPSERVER CALLER_LOADER {path!r} is not an importable class with user() and client().",
                id="mcpserver.E006",
            )
        ]
    return []


@checks.register(checks.Tags.security, checks.Tags.caches)
def check_shared_cache(app_configs, **kwargs):
    """The embedded shared state (``sharedstate.embedded``, the back end without ``REDIS_URL``) keeps
    revocations and sessions in Django's default cache: it must be shared by every worker and instance."""
    from django.conf import settings

    state = getattr(settings, "SHARED_STATE", {})
    if not state.get("BACKEND", "sharedstate.embedded.EmbeddedState").endswith(".EmbeddedState"):
        return []  # Redis (or another back end of its own): the keys are not in Django's cache
    alias = state.get("CACHE", "default")
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    if backend.endswith(".DummyCache"):
        return [
            checks.Error(
                f"The {alias!r} cache is a DummyCache: revoked tokens would be accepted.", id="mcpserver.E004"
            )
        ]
    if backend.endswith((".LocMemCache", ".FileBasedCache")):
        return [
            checks.Warning(
                f"The {alias!r} cache is not shared between processes: a token revoked through one worker would "
                "still be accepted by the others, and sessions would not move between workers.",
                hint="Use Redis (REDIS_URL) or the database cache.",
                id="mcpserver.W001",
            )
        ]
    return []


@checks.register()
def check_audit_spool(app_configs, **kwargs):
    """Without a usable spool a killed worker loses the records it had not written yet."""
    from .audit import spooldir

    problem = spooldir.problem() if conf.get("AUDIT") else None
    if problem is None:
        return []
    return [
        checks.Error(
            f"The audit spool cannot be written: {problem}.",
            hint=(
                "Set MCPSERVER AUDIT_SPOOL_DIR to a directory that the server's user owns and no other "
                "user may write (or AUDIT_SPOOL to False: a killed worker then loses its unwritten records)."
            ),
            id="mcpserver.E005",
        )
    ]


@checks.register(checks.Tags.security)
def check_token_exchange(app_configs, **kwargs):
    """``ctx.exchange_token``'s client: both halves of its credentials or neither, and a usable endpoint."""
    has_id = bool(conf.get("TOKEN_EXCHANGE_CLIENT_ID"))
    has_secret = bool(conf.get("TOKEN_EXCHANGE_CLIENT_SECRET"))
    errors = []
    if has_id != has_secret:
        errors.append(
            checks.Error(
                "MCPSERVER TOKEN_EXCHANGE_CLIENT_ID and TOKEN_EXCHANGE_CLIENT_SECRET go together "
                "(MCP_TOKEN_EXCHANGE_CLIENT_ID, MCP_TOKEN_EXCHANGE_CLIENT_SECRET): set both or neither.",
                id="mcpserver.E010",
            )
        )
    endpoint = conf.get("TOKEN_EXCHANGE_ENDPOINT")
    if endpoint and not _absolute(endpoint):
        message = f"MCPSERVER TOKEN_EXCHANGE_ENDPOINT {endpoint!r} must be an absolute URL."
        errors.append(checks.Error(message, id="mcpserver.E010"))
    return errors

"""The issuers whose access tokens ``/mcp`` accepts, and where each keeps its keys and its claims.

This server's own issuer (``ISSUER``, keys from ``KEY_SOURCE``) is trusted unless ``TRUST_OWN_ISSUER``
is false; ``TRUSTED_ISSUERS`` adds others, each a dict::

    {"issuer": "https://sso.example.com/realms/acme",   # the token's ``iss``, byte for byte
     "preset": "keycloak",                               # defaults for everything below
     "jwks_url": "https://sso.example.com/realms/acme/protocol/openid-connect/certs",
     "accepted_typ": ["at+jwt", "JWT"],                  # the JOSE header ``typ`` values accepted
     "audience": "https://mcp.example.com/mcp",          # or a list; default: RESOURCE_URL
     "claims": {"username": "preferred_username", "roles": "realm_access.roles",
                "client_id": "azp", "scope": "scope"},   # dotted paths; roles may be a list of paths
     "require": {"typ": "Bearer"},                       # claims that must hold exactly these values
     "caller_loader": "mcpserver.callers.ClaimsLoader"}  # ctx.user / ctx.client for its tokens

``parse`` turns one entry into an ``Issuer`` or raises ``ValueError`` saying what is wrong (the
system checks report it); entries that do not parse are never trusted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.core.signals import setting_changed

from . import conf

RFC9068_TYPES = ("at+jwt", "application/at+jwt")
OWN_CLAIMS = {"username": "username", "roles": "roles", "client_id": "client_id", "scope": "scope"}
CLAIM_NAMES = frozenset(OWN_CLAIMS)
KEYS = frozenset(
    {"issuer", "preset", "jwks_url", "accepted_typ", "audience", "claims", "require", "caller_loader"}
)

# Keycloak (19 and later, 26 included): header typ "JWT"; the access token's own ``typ`` claim is
# "Bearer" (ID and refresh tokens of the same realm say "ID" and "Refresh" and are signed by the same keys).
PRESETS: dict[str, dict[str, Any]] = {
    "keycloak": {
        "jwks_url": "{issuer}/protocol/openid-connect/certs",
        "accepted_typ": ["at+jwt", "JWT"],
        "claims": {
            "username": "preferred_username",
            "roles": "realm_access.roles",
            "client_id": "azp",
            "scope": "scope",
        },
        "require": {"typ": "Bearer"},
    },
}


@dataclass(frozen=True)
class Issuer:
    """One trusted issuer: how its tokens are verified and read."""

    issuer: str
    key_source: str  # a JWKS URL or a dotted path to a callable returning a JWKS
    accepted_typ: frozenset[str] = frozenset(RFC9068_TYPES)
    audience: tuple[str, ...] | None = None  # None: RESOURCE_URL, read at call time
    claims: dict[str, tuple[str, ...]] = field(default_factory=dict)  # field -> dotted paths
    require: dict[str, Any] = field(default_factory=dict)
    caller_loader: str | None = None  # None: CALLER_LOADER
    own: bool = False

    def audiences(self, requested: str | None = None) -> list[str]:
        """What ``aud`` must name: ``requested`` when it is another resource than ``/mcp`` (the REST
        audience), else this issuer's audience (by default the MCP resource URL)."""
        resource = conf.get("RESOURCE_URL")
        if requested and requested != resource:
            return [requested]
        return list(self.audience) if self.audience else [resource]

    def paths(self, name: str) -> tuple[str, ...]:
        return self.claims.get(name) or (OWN_CLAIMS[name],)

    def read(self, claims: dict[str, Any], name: str) -> Any:
        """The value at the first of this issuer's paths for ``name`` that the claims hold, or None."""
        return next((value for path in self.paths(name) if (value := claim(claims, path)) is not None), None)

    def roles(self, claims: dict[str, Any]) -> list[str]:
        """Every role name at this issuer's role paths."""
        found = (claim(claims, path) for path in self.paths("roles"))
        return [role for value in found if isinstance(value, list) for role in value if isinstance(role, str)]


def _absolute(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.netloc) and not parts.fragment


def _strings(value: Any, what: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items or not all(isinstance(i, str) and i for i in items):
        raise ValueError(f"{what} must be a non-empty string or a list of them")
    return tuple(items)


def parse(entry: Any) -> Issuer:
    """One ``TRUSTED_ISSUERS`` entry as an ``Issuer``; ``ValueError`` says what is wrong with it."""
    if not isinstance(entry, dict):
        raise ValueError("each entry must be a dict")
    unknown = sorted(set(entry) - KEYS)
    if unknown:
        raise ValueError(f"unknown keys {unknown}")
    issuer = entry.get("issuer")
    if not _absolute(issuer) or issuer.endswith("/") or urlsplit(issuer).query:
        raise ValueError(f"issuer {issuer!r} must be an absolute URL without a trailing slash")
    preset = entry.get("preset")
    if preset is not None and (not isinstance(preset, str) or preset not in PRESETS):
        raise ValueError(f"preset {preset!r} is not one of {sorted(PRESETS)}")
    base = PRESETS.get(preset, {})
    jwks_url = entry.get("jwks_url") or base.get("jwks_url", "").format(issuer=issuer)
    if not _absolute(jwks_url):
        raise ValueError(f"jwks_url {jwks_url!r} must be an absolute http(s) URL")
    claims = {**base.get("claims", {}), **_dict(entry.get("claims"), "claims")}
    if set(claims) - CLAIM_NAMES:
        raise ValueError(f"claims may name only {sorted(CLAIM_NAMES)}")
    audience = entry.get("audience")
    loader = entry.get("caller_loader", "mcpserver.callers.ClaimsLoader")
    if not isinstance(loader, str) or not loader:
        raise ValueError("caller_loader must be a dotted path")
    accepted_typ = _strings(
        entry.get("accepted_typ", base.get("accepted_typ", RFC9068_TYPES)), "accepted_typ"
    )
    return Issuer(
        issuer=issuer,
        key_source=jwks_url,
        accepted_typ=frozenset(typ.lower() for typ in accepted_typ),
        audience=None if audience is None else _strings(audience, "audience"),
        claims={name: _strings(path, f"claims.{name}") for name, path in claims.items()},
        require={**base.get("require", {}), **_dict(entry.get("require"), "require")},
        caller_loader=loader,
    )


def _dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a dict")
    return value


def own() -> Issuer:
    """This server's issuer: ``ISSUER``, its keys from ``KEY_SOURCE``, RFC 9068 tokens and claims."""
    return Issuer(issuer=conf.get("ISSUER"), key_source=conf.get("KEY_SOURCE"), own=True)


_memo: dict[str, Issuer] = {}


def trusted() -> dict[str, Issuer]:
    """Every trusted issuer by its issuer string, this server's first (entries that do not parse are
    left out)."""
    if not _memo:
        found = {conf.get("ISSUER"): own()} if conf.get("TRUST_OWN_ISSUER") else {}
        entries = conf.get("TRUSTED_ISSUERS") or []
        for entry in entries if isinstance(entries, list | tuple) else []:
            try:
                parsed = parse(entry)
            except ValueError:
                continue  # reported by the system checks (mcpserver.E007)
            found.setdefault(parsed.issuer, parsed)
        _memo.update(found)
    return _memo


def find(issuer: Any) -> Issuer | None:
    """The trusted issuer whose string is byte-identical to ``issuer``, or None."""
    return trusted().get(issuer) if isinstance(issuer, str) else None


def authorization_servers() -> list[str]:
    """RFC 9728 ``authorization_servers``: every trusted issuer, this server's own first."""
    return list(trusted())


def claim(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (``realm_access.roles``), or None where any step is missing."""
    value: Any = claims
    for step in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def _forget(setting: str, **kwargs: Any) -> None:
    if setting == "MCPSERVER":
        _memo.clear()


setting_changed.connect(_forget, dispatch_uid="mcpserver-issuers")

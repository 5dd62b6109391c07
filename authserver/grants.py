"""The one table of grant types: what each is, who may use it, what serves it, and whether it is offered.

Settings, the oauthlib server class, the validator, RFC 8707 resources, the token view, metadata,
registration, the admin form and the CLI read it, and ``authserver.apps`` names its grant types to
the token metrics at start-up, so a new grant is one entry here plus its handler. It imports no
Django models and no settings at import time: ``config/settings/oauth.py`` builds DOT's
``OAUTH2_GRANT_TYPES_SUPPORTED`` (the one switch of what is offered) from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from oauthlib.oauth2.rfc6749.grant_types import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    ResourceOwnerPasswordCredentialsGrant,
)
from oauthlib.oauth2.rfc6749.grant_types.base import GrantTypeBase
from oauthlib.oauth2.rfc8628.grant_types import DeviceCodeGrant

from .assertion_grant import JWT_BEARER, IdentityAssertionGrant
from .exchange import TOKEN_EXCHANGE, TokenExchangeGrant

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass(frozen=True)
class Grant:
    """One grant type, as the token endpoint names it (``grant_type``)."""

    grant_type: str
    # DOT's ``Application.GRANT_*`` a client is registered with to use it; None: no grant of its
    # own (a refresh token continues whatever grant issued it).
    application_grant: str | None
    handler: type[GrantTypeBase]  # the oauthlib class that serves it at the token endpoint
    user_delegated: bool  # a token on a user's behalf, narrowed to the user's roles
    self_registered: bool = False  # open to clients registered by DCR or CIMD
    on_by_default: bool = True  # offered unless config/settings/oauth.py switches it off
    # Where RFC 8707 resources bound earlier come from (authserver.resource_indicators.BINDINGS); None: none.
    resource_binding: str | None = None
    # Allowed per client by its policy (ClientPolicy), not by Application.authorization_grant_type (one
    # grant per client, 44 characters); its handler then settles the token's audience itself, from that
    # policy's allow-list, instead of the server-wide one (authserver.resource_indicators).
    by_client_policy: bool = False


GRANTS: tuple[Grant, ...] = (
    Grant(
        "authorization_code",
        "authorization-code",
        AuthorizationCodeGrant,
        user_delegated=True,
        self_registered=True,
        resource_binding="code",
    ),
    Grant("client_credentials", "client-credentials", ClientCredentialsGrant, user_delegated=False),
    Grant(
        "refresh_token",
        None,
        RefreshTokenGrant,
        user_delegated=True,
        self_registered=True,
        resource_binding="refresh",
    ),
    # RFC 9700 §2.4 discourages it; a product requirement for scripts (OAUTH_PASSWORD_GRANT=false: off).
    Grant("password", "password", ResourceOwnerPasswordCredentialsGrant, user_delegated=True),
    # RFC 8628: for clients without a browser (authserver.devices); the user decides on our pages.
    Grant(DEVICE_CODE, DEVICE_CODE, DeviceCodeGrant, user_delegated=True, resource_binding="device"),
    # RFC 8693: a confidential client trades a token it was sent for one to call another API on the
    # subject's behalf (authserver.delegation); the client's policy lists where it may do so.
    Grant(TOKEN_EXCHANGE, None, TokenExchangeGrant, user_delegated=True, by_client_policy=True),
    # RFC 7523 §2.1 with identity assertion grants (ID-JAG, authserver.idjag): no application grant of
    # its own; a client may use it when an identity provider lists it (IdentityProvider.clients).
    Grant(JWT_BEARER, None, IdentityAssertionGrant, user_delegated=True, resource_binding="assertion"),
)
BY_TYPE: dict[str, Grant] = {grant.grant_type: grant for grant in GRANTS}
# Every application grant a client may be registered with (the CLI); offered or not is decided per request.
APPLICATION_GRANTS: tuple[str, ...] = tuple(grant.application_grant for grant in GRANTS if grant.application_grant)


def grant_types_supported(**switches: bool) -> list[str]:
    """DOT's ``OAUTH2_GRANT_TYPES_SUPPORTED`` for ``config/settings/oauth.py``: every grant on by default,
    less those switched off, plus those switched on (``password=False``, ``device_code=True``,
    ``token_exchange=False``: the last part of the grant's name, hyphens as underscores)."""
    names = {grant.grant_type.rsplit(":", 1)[-1].replace("-", "_"): grant for grant in GRANTS}
    unknown = set(switches) - set(names)
    if unknown:
        raise ValueError(f"No grant named {', '.join(sorted(unknown))}; known: {', '.join(names)}.")
    return [grant.grant_type for name, grant in names.items() if switches.get(name, grant.on_by_default)]


def get(grant_type: str | None) -> Grant | None:
    return BY_TYPE.get(grant_type) if isinstance(grant_type, str) else None


def offered() -> list[Grant]:
    """The grants the token endpoint serves now (DOT's setting, read at call time)."""
    # Imported here: DOT's settings module reads Django's settings, and config.settings imports this one.
    from oauth2_provider.settings import oauth2_settings

    supported = oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED
    return [grant for grant in GRANTS if grant.grant_type in supported]


def is_offered(grant_type: str | None) -> bool:
    return any(grant.grant_type == grant_type for grant in offered())


def is_user_delegated(grant_type: str | None) -> bool:
    """Whether a token from this grant acts for a user (``sub`` is the user; scopes narrow to roles)."""
    grant = get(grant_type)
    return grant is not None and grant.user_delegated


def application_grants() -> list[str]:
    """The ``Application.GRANT_*`` values a client may be given: those of the offered grants."""
    return [grant.application_grant for grant in offered() if grant.application_grant]


def self_registered_grant_types() -> list[str]:
    """The ``grant_types`` a client registered by DCR may ask for (RFC 7591 §2)."""
    return [grant.grant_type for grant in offered() if grant.self_registered]

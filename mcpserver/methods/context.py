"""One request as a method sees it (``Context``), a result still being produced (``Stream``), and what
the caller may use.

The caller as a capability function sees it: ``ctx.user`` and ``ctx.client`` (Django objects, loaded
on first use through ``callers``), ``ctx.roles`` and ``ctx.scopes`` (the token's: the ones every access
decision of this request used), ``ctx.request_id``; ``ctx.require`` is an object-level check;
``ctx.elicit``, ``ctx.sample``, ``ctx.list_roots`` and ``ctx.ask`` ask the client (``interaction``);
``ctx.exchange_token`` gets a token for another API acting for the caller (``tokenexchange``, RFC 8693).

Access: an item needs its family's scope (``TOOLS_SCOPE``, ``PROMPTS_SCOPE``, else ``READ_SCOPE``) plus
its own scopes, one of its roles when it names any, and not to be switched off by a tool policy.
``visible`` lists only such items; ``usable`` fetches one for a call and audits a refusal;
``scope_hint`` notes on a list of tools or prompts which scope the token lacks to see any.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .. import audit, callers, conf, policies, tokenexchange
from ..auth import AccessToken, credentials
from ..definitions import Definition, Forbidden, Tool
from ..exceptions import InsufficientScope, InvalidParams
from ..interaction.asking import Asking, Unreachable
from ..registry import Registry


@dataclass
class Context(Asking):
    """One request as a method (and a tool, prompt or resource function) sees it."""

    token: AccessToken
    registry: Registry
    era: str  # "modern" or "legacy"
    version: str
    params: dict[str, Any] = field(default_factory=dict)
    request_id: Any = None
    client_capabilities: dict[str, Any] = field(default_factory=dict)
    client_info: dict[str, Any] | None = None
    session_id: str | None = None
    log_level: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    response_headers: dict[str, str] = field(default_factory=dict)
    # time.monotonic() by which a tool call must finish (set by tools_call, or shared by a batch);
    # a tool that works for long should stop when ``expired``.
    deadline: float | None = None
    # Where requests to the client go (transport.clientrequests.Outbox): set for a call that may ask
    # the client something (transport.interactive), None otherwise.
    outbox: Any = None
    # What this request may ask the client: set by interaction.asking.begin for the methods that may ask.
    interaction: Any = field(default_factory=Unreachable)
    # The request's (verified) Authorization header: only ``exchange_token`` hands its token on, to the
    # issuer; read only then, so that no request pays for it.
    authorization: str | None = field(default=None, repr=False)

    def remaining(self) -> float:
        """Seconds left before this call's deadline (infinite without one; never negative)."""
        return math.inf if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    @cached_property
    def user(self) -> Any:
        """The user a user token was issued to (a ``get_user_model()`` instance); None for a client's own
        token (client credentials) or a user the loader does not find. Loaded once, when first read."""
        return callers.loader(self.token).user(self.token)

    @cached_property
    def client(self) -> Any:
        """The OAuth client (the issuer's application object) the token was issued to, or None."""
        return callers.loader(self.token).client(self.token)

    @property
    def caller(self) -> Any:
        """Who acts: the client for its own token (client credentials), else the user."""
        return self.client if callers.acts_for_itself(self.token) else self.user

    @property
    def roles(self) -> frozenset[str]:
        return self.token.roles

    @property
    def scopes(self) -> frozenset[str]:
        return self.token.scopes

    def exchange_token(
        self,
        audience: str | None = None,
        *,
        resource: str | None = None,
        scope: str | list[str] | None = None,
    ) -> tokenexchange.ExchangedToken:
        """RFC 8693: a token for another API (``audience`` and/or ``resource``), acting for this caller,
        with ``scope`` or fewer; ``tokenexchange.TokenExchangeFailed`` (a tool error) when refused.
        Bounded by this call's deadline. See ``mcpserver.tokenexchange``."""
        subject = credentials(self.authorization)[1] if self.authorization else None
        return tokenexchange.exchange(
            subject, audience=audience, resource=resource, scope=scope, timeout=self.remaining()
        )

    def require(self, condition: Any, what: str, reason: str = "") -> None:
        """An object-level check: unless ``condition`` holds, raise ``Forbidden(what, reason)``, which the
        caller is told as ``Not found: <what>`` and the audit trail records as denied."""
        if not condition:
            raise Forbidden(what, reason)

    @property
    def progress_token(self) -> Any:
        meta = self.params.get("_meta")
        return meta.get("progressToken") if isinstance(meta, dict) else None

    def visible(self, kind: str, after: str | None = None) -> Iterator[Definition]:
        """What this caller may use, sorted (keys after ``after`` only): allowed by scopes and roles and
        not switched off. Lazy, so that a page of a long list costs a page, not the whole list. The
        tool policies are read once, so that one listing applies one version of them."""
        kept = policies.overrides() if kind == "tool" else None
        return (
            item
            for item in (_effective(found, kept) for found in self.registry.all(kind, after))
            if item is not None and allowed(self, item)
        )


@dataclass
class Stream:
    """A result that is still being produced: yields ``Progress``/``Log`` events, then returns the result."""

    events: Generator[Any, None, dict[str, Any]]
    abandon: Callable[[], None] = lambda: None  # called when the stream is closed, started or not


_FAMILY_SCOPES = {"tool": "TOOLS_SCOPE", "prompt": "PROMPTS_SCOPE"}
# The _meta key of a list result whose family scope the token lacks (see ``scope_hint``).
SCOPE_HINT_KEY = "scopeHint"
_USES = {"tool": "call tools", "prompt": "get prompts"}


def _family_scope(item: Definition) -> str:
    return conf.get(_FAMILY_SCOPES.get(item.kind, "READ_SCOPE"))


def scope_hint(ctx: Context, kind: str, page: dict[str, Any]) -> dict[str, Any]:
    """``page``, with ``_meta[SCOPE_HINT_KEY]`` naming the scope every item of ``kind`` needs when the
    token lacks it: such a list is empty, and without the note nothing says why."""
    scope = conf.get(_FAMILY_SCOPES[kind])
    if not ctx.token.missing([scope]):
        return page
    hint = f"Only what this token may use is listed, and it lacks {scope}: ask for {scope} to {_USES[kind]}."
    return {**page, "_meta": {SCOPE_HINT_KEY: hint}}


def required_scopes(item: Definition) -> list[str]:
    return [_family_scope(item), *item.scopes]


def _effective(item: Definition, kept: dict | None = None) -> Definition | None:
    return policies.effective(item, kept) if isinstance(item, Tool) else item


def allowed(ctx: Context, item: Definition) -> bool:
    return not ctx.token.missing(required_scopes(item)) and ctx.token.has_roles(item.roles)


def usable(ctx: Context, item: Definition | None, unknown: InvalidParams, trail: audit.Trail) -> Definition:
    """The item if this caller may use it: 403 for a missing scope, unknown when hidden by role or policy.

    A refusal of something that exists is audited as denied, with the reason (never told the caller).
    """
    if item is None:
        raise unknown
    found = _effective(item)
    if found is None:
        trail.done("denied", "disabled by policy")
        raise unknown
    if not ctx.token.has_roles(found.roles):
        trail.done("denied", f"needs one of the roles: {' '.join(found.roles)}")
        raise unknown
    required = required_scopes(found)
    missing = ctx.token.missing(required)
    if missing:
        trail.done("denied", f"missing scope{'s' if len(missing) > 1 else ''}: {' '.join(missing)}")
        raise InsufficientScope(required, scheme=ctx.token.scheme)
    return found


def call_arguments(ctx: Context) -> dict[str, Any]:
    """The call's arguments object: anything else is a malformed request (a protocol error)."""
    arguments = ctx.params.get("arguments")
    if arguments is None:
        return {}
    if not isinstance(arguments, dict):
        raise InvalidParams("arguments must be an object")
    return arguments

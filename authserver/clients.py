"""Creating OAuth clients (DOT applications) together with their scope ceiling, and a per-process memo
of loaded clients for the token endpoint.

The memo keeps each client as loaded from the database, its scope ceiling with it, so a token request
needs no query to find its client. It is checked against a change stamp in the shared cache on every
use: any save or delete of a client, its policy, its ceiling or a scope (admin, DCR, CLI, ``seed_demo``)
replaces the stamp, right away and again once the change commits, so every worker of every instance
sees the change on its next request. Changes that bypass model signals (``QuerySet.update()``, SQL)
reach the memo within ``CLIENT_RECHECK_SECONDS`` (0 turns the memo off). Without the shared cache the
memo is not used at all: every request loads its client from the database.
"""

from __future__ import annotations

import copy
import re
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from . import conf, grants, outages, revoking, scopes
from .models import ClientPolicy, Scope

GRANTS = grants.APPLICATION_GRANTS  # the CLI's names are DOT's application grant values


LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
# RFC 8252 §7.1: a private-use scheme is a reversed domain name the app controls, so it has a dot;
# that also keeps out javascript:, data:, file:, vbscript: and every other dot-less scheme.
PRIVATE_USE_SCHEME = re.compile(r"^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$")


def is_private_use_scheme(scheme: str) -> bool:
    return bool(PRIVATE_USE_SCHEME.match(scheme)) and scheme not in {"http", "https"}


def redirect_uri_problem(uri: str) -> str | None:
    """Why a redirect URI is refused, or None when it is acceptable.

    https anywhere; plain http only to a loopback address, any port, which is then matched exactly;
    a private-use scheme for native apps (RFC 8252 §7.1). Never a fragment (RFC 6749 §3.1.2), a
    wildcard (RFC 9700 §2.1: exact matching), credentials in the URI, or whitespace.
    """
    if not uri or any(char.isspace() for char in uri):
        return "it is empty or contains whitespace"
    if "#" in uri:
        return "a redirect URI must not contain a fragment"
    if "*" in uri:
        return "wildcards are not allowed; register each redirect URI exactly"
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (an out-of-range port raises ValueError)
    except ValueError:
        return "it is not a valid URI"
    if parts.username is not None or parts.password is not None:
        return "a redirect URI must not contain credentials"
    if parts.scheme == "https":
        return None if parts.hostname else "an https redirect URI needs a host"
    if parts.scheme == "http":
        if parts.hostname in LOOPBACK_HOSTS:
            return None
        return "plain http is allowed only to a loopback address (127.0.0.1, [::1], localhost)"
    if is_private_use_scheme(parts.scheme):
        return None if (parts.path or parts.netloc) else "it has no path"
    scheme = parts.scheme or "missing"
    return f"the {scheme} scheme is not allowed; use https, loopback http or a private-use scheme"


def redirect_uri_allowed(uri: str) -> bool:
    return redirect_uri_problem(uri) is None


def registered(application, uri: str) -> bool:
    """Exact string matching (RFC 9700 §2.1), including a loopback URI's port.

    Stricter than DOT, which lets a loopback IP's port vary (RFC 8252 §7.3): a client registers
    the port it listens on, and another local process on another port cannot receive its codes.
    """
    return uri in application.redirect_uris.split()


def allowed_schemes(application) -> list[str]:
    """DOT's ``Application.get_allowed_schemes``: http(s) plus this client's own private-use schemes.

    DOT allows one global scheme list (``ALLOWED_REDIRECT_URI_SCHEMES``), which cannot name every
    native app's reversed-domain scheme; each client may use the private-use schemes it registered.
    """
    from oauth2_provider.settings import oauth2_settings

    own = {urlsplit(uri).scheme for uri in application.redirect_uris.split()}
    private = sorted(scheme for scheme in own if is_private_use_scheme(scheme))
    return [*oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES, *private]


class ClientError(ValueError):
    """A client definition that cannot be created as asked."""


@dataclass(frozen=True)
class NewClient:
    client_id: str
    client_secret: str | None
    application: object


def _scopes(names: list[str]) -> list[Scope]:
    found = {scope.name: scope for scope in Scope.objects.filter(name__in=names)}
    unknown = sorted(set(names) - set(found))
    if unknown:
        raise ClientError(f"Unknown scope(s): {', '.join(unknown)}")
    return [found[name] for name in names]


@transaction.atomic
def create_client(
    name: str,
    grant: str,
    scopes: list[str],
    redirect_uris: list[str] = (),
    public: bool = False,
    client_id: str | None = None,
    client_secret: str | None = None,
    may_introspect: bool = False,
) -> NewClient:
    """Create a client and its scope ceiling; return the secret once (stored only hashed).

    ``may_introspect``: a resource server that may ask the introspection endpoint about any token.
    """
    if grant not in GRANTS:
        raise ClientError(f"Unknown grant {grant!r}; choose one of {', '.join(GRANTS)}.")
    if grant == "authorization-code" and not redirect_uris:
        raise ClientError("An authorization-code client needs at least one redirect URI.")
    if grant == "client-credentials" and public:
        raise ClientError("A client-credentials client must be confidential.")
    for uri in redirect_uris:
        problem = redirect_uri_problem(uri)
        if problem:
            raise ClientError(f"Redirect URI {uri!r} refused: {problem}.")
    ceiling = _scopes(scopes)
    Application = get_application_model()
    secret = None if public else (client_secret or generate_client_secret())
    application = Application(
        name=name,
        client_type=Application.CLIENT_PUBLIC if public else Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=grant,
        redirect_uris=" ".join(redirect_uris),
        client_secret=secret or "",
        hash_client_secret=True,
    )
    if client_id:
        if Application.objects.filter(client_id=client_id).exists():
            raise ClientError(f"A client with id {client_id!r} already exists.")
        application.client_id = client_id
    try:
        application.full_clean(exclude=["client_secret", "user"])
    except Exception as exc:  # ValidationError: report its messages, not a traceback
        raise ClientError("; ".join(getattr(exc, "messages", [str(exc)]))) from exc
    application.save()
    policy = ClientPolicy.objects.create(application=application, may_introspect=may_introspect)
    policy.scopes.set(ceiling)
    return NewClient(application.client_id, secret, application)


def internal_client(client_id: str, name: str):
    """The client that tokens minted on the server itself (``manage.py issue_token``) are issued to.

    Public, so that whoever holds such a token can revoke it at the RFC 7009 endpoint (a confidential
    client would need a secret nobody knows), and inert otherwise: an authorization-code client
    without redirect URIs can start no flow. Its ceiling is the whole scope catalogue, kept current;
    the user's roles do the narrowing.
    """
    Application = get_application_model()
    application, _ = Application.objects.update_or_create(
        client_id=client_id,
        defaults={
            "name": name,
            "client_type": Application.CLIENT_PUBLIC,
            "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
            "redirect_uris": "",
            "client_secret": "",
        },
    )
    ClientPolicy.objects.get_or_create(application=application)[0].scopes.set(Scope.objects.all())
    return application


@transaction.atomic
def set_enabled(applications, enabled: bool) -> int:
    """Enable or disable clients; disabling also revokes every token they hold. Returns tokens revoked.

    A disabled client's ceiling reads as empty, so it is granted nothing until it is enabled again,
    and its ceiling is kept for that day.
    """
    revoked = 0
    for application in applications:
        ClientPolicy.objects.update_or_create(application=application, defaults={"enabled": enabled})
        if not enabled:
            revoked += revoking.revoke_tokens(application=application)
    return revoked


# --- the per-process memo of loaded clients -------------------------------------------------------

CHANGE_STAMP_KEY = "authserver:clients-changed"
MEMO_SIZE = 1000  # clients memoised per process at most (then the memo starts over)
SHARED_CACHE_BACKOFF = 5.0  # seconds without asking an unreachable shared cache for the stamp


@dataclass(frozen=True)
class Ticket:
    """Taken before a client is loaded from the database: what the loaded copy may be memoised under."""

    client_id: str
    stamp: str | None
    taken: float


class ClientMemo:
    """This process's clients as last loaded, each under the change stamp read before loading it."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[object, str, float]] = {}  # client_id -> (application, stamp, loaded)
        self._lock = threading.Lock()
        self._shared_cache_down_until = 0.0

    def _stamp(self) -> str | None:
        """The shared change stamp (one is made when there is none); None when it cannot be read."""
        if time.monotonic() < self._shared_cache_down_until:
            return None
        try:
            stamp = cache.get(CHANGE_STAMP_KEY)
            if stamp is None:  # never set, expired, or the shared cache was emptied: start a new era
                cache.add(CHANGE_STAMP_KEY, uuid.uuid4().hex, timeout=None)
                stamp = cache.get(CHANGE_STAMP_KEY)
        except outages.OUTAGES:
            self._shared_cache_down_until = time.monotonic() + SHARED_CACHE_BACKOFF
            outages.warn("The shared cache is unreachable: every request loads its client from the database")
            return None
        return stamp

    def lookup(self, client_id: str):
        """(a private copy of the memoised client or None, the ticket to ``store`` a fresh load under)."""
        recheck = conf.get("CLIENT_RECHECK_SECONDS")
        if recheck <= 0 or not client_id:
            return None, None
        stamp = self._stamp()
        if stamp is None:
            return None, None
        now = time.monotonic()
        entry = self._entries.get(client_id)
        if entry is not None and entry[1] == stamp and now - entry[2] < recheck:
            return copy.copy(entry[0]), None
        return None, Ticket(client_id, stamp, now)

    def store(self, ticket: Ticket | None, application) -> None:
        """Memoise a client loaded after ``ticket`` was taken, with its scope ceiling."""
        if ticket is None or application is None or application.client_id != ticket.client_id:
            return
        if application.registration_source == application.RegistrationSource.CIMD:
            return  # DOT re-fetches their metadata documents when stale: they always take its path
        scopes.ceiling(application)  # loaded now, kept on the instance
        with self._lock:
            if len(self._entries) >= MEMO_SIZE:
                self._entries.clear()
            self._entries[ticket.client_id] = (copy.copy(application), ticket.stamp, ticket.taken)

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()

    def reset(self) -> None:
        """Forget every client and any shared-cache outage (tests)."""
        self.forget()
        self._shared_cache_down_until = 0.0


memo = ClientMemo()


def _publish_change() -> None:
    memo.forget()
    try:
        cache.set(CHANGE_STAMP_KEY, uuid.uuid4().hex, timeout=None)
    except outages.OUTAGES:
        outages.warn("The shared cache is unreachable: other workers see a client change within the recheck")


def clients_changed(sender=None, using=None, action: str = "post_", **kwargs) -> None:
    """A client, its policy, its ceiling or a scope changed: every memo must load clients afresh.

    Published at once and again after the commit: a worker that reloaded the client in between
    (and so read the row as it was before the commit) is sent to the database once more.
    """
    if not action.startswith("post_"):
        return
    _publish_change()
    transaction.on_commit(_publish_change, using=using, robust=True)


_CHANGES = [
    (post_save, get_application_model()),
    (post_delete, get_application_model()),
    (post_save, ClientPolicy),
    (post_delete, ClientPolicy),
    (m2m_changed, ClientPolicy.scopes.through),
    (post_save, Scope),
    (post_delete, Scope),
]
for _signal, _sender in _CHANGES:
    _signal.connect(clients_changed, sender=_sender, dispatch_uid=f"authserver-clients-{_sender.__name__}")

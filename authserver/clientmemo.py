"""The token endpoint's per-process memo of loaded clients: no query to find a client, never a stale one.

The memo keeps each client as loaded from the database, its scope ceiling with it, under a stamp of the
``clients`` change feed taken before loading it (``sharedstate.stamps``). Any save or delete of a
client, its policy, its ceiling or a scope (admin, DCR, CLI, ``seed_demo``) announces a change
(``sharedstate.changed``: at once and again when it commits), so every worker of every instance loads
the client afresh on its next request. Changes that bypass model signals (``QuerySet.update()``, SQL)
reach the memo within ``CLIENT_RECHECK_SECONDS`` (0 turns the memo off). Without a change feed (Redis
unreachable, or a database other hosts share without Redis) the memo is not used: every request loads
its client from the database.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass

from django.db.models.signals import m2m_changed, post_delete, post_save
from oauth2_provider.models import get_application_model

import sharedstate
from sharedstate.stamps import Stamp

from . import conf, dpop, outages, scopes
from .models import ClientPolicy, Scope

TOPIC = "clients"
MEMO_SIZE = 1000  # clients memoised per process at most (then the memo starts over)


@dataclass(frozen=True)
class Ticket:
    """Taken before a client is loaded from the database: what the loaded copy may be memoised under."""

    client_id: str
    stamp: Stamp


class ClientMemo:
    """This process's clients as last loaded, each under the stamp taken before loading it."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[object, Stamp]] = {}  # client_id -> (application, stamp)
        self._lock = threading.Lock()

    def lookup(self, client_id: str):
        """(a private copy of the memoised client or None, the ticket to ``store`` a fresh load under)."""
        recheck = conf.get("CLIENT_RECHECK_SECONDS")
        if recheck <= 0 or not client_id:
            return None, None
        now = Stamp.take(TOPIC)
        if not now.has_feed:
            return None, None
        entry = self._entries.get(client_id)
        if entry is not None and entry[1].valid(now, without_feed=0, at_most=recheck):
            return copy.copy(entry[0]), None
        return None, Ticket(client_id, now)

    def store(self, ticket: Ticket | None, application) -> None:
        """Memoise a client loaded after ``ticket`` was taken, with its scope ceiling."""
        if ticket is None or application is None or application.client_id != ticket.client_id:
            return
        if application.registration_source == application.RegistrationSource.CIMD:
            return  # DOT re-fetches their metadata documents when stale: they always take its path
        scopes.ceiling(application)  # loaded now, kept on the instance
        dpop.required(application)  # likewise
        try:
            application.policy  # noqa: B018  (how it authenticates: cached on the instance, copied with it)
        except ClientPolicy.DoesNotExist:
            pass
        with self._lock:
            if len(self._entries) >= MEMO_SIZE:
                self._entries.clear()
            self._entries[ticket.client_id] = (copy.copy(application), ticket.stamp)

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()


memo = ClientMemo()


def clients_changed(sender=None, using=None, action: str = "post_", **kwargs) -> None:
    """A client, its policy, its ceiling or a scope changed: every memo must load clients afresh.

    Announced at once and again after the commit (``sharedstate.changed``): a worker that reloaded
    the client in between (and so read the row as it was before the commit) is sent to the database
    once more. This process's own memo is emptied at once as well, without waiting for the feed.
    """
    if not action.startswith("post_"):
        return
    memo.forget()
    try:
        sharedstate.changed(TOPIC, using=using)
    except outages.OUTAGES:
        outages.warn(
            "The shared state is unreachable: other workers see a client change within CLIENT_RECHECK_SECONDS"
        )


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

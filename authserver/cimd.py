"""Fetching Client ID Metadata Documents: DOT's SSRF rules under one wall-clock deadline, plus explicitly
allowed private hosts, a per-address limit on new documents and the client-metadata limits.

DOT's ``SafeMetadataFetcher`` (the ``CIMD_METADATA_FETCHER`` hook) fetches only https URLs whose host
resolves to public addresses, connects to the address it checked and follows no redirects; but its
timeout bounds each socket read, so a server sending a byte a second could hold a thread for minutes. Here
the whole fetch (name lookup, connect, TLS handshake, headers, body) shares one deadline,
``CIMD_FETCH_TIMEOUT_SECONDS`` from its start. One exception to DOT's rules, off by default: a host
listed in ``CIMD_PRIVATE_HOSTS`` (``ALLOWED_HOSTS`` syntax) may resolve to a private or loopback
address, for a metadata server on the same machine or network (and for tests).
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as LookupTimeout

import urllib3
from django.core.cache import cache
from django.http.request import validate_host
from oauth2_provider import cimd
from oauth2_provider.settings import oauth2_settings

from . import conf, metadata, outages, registration, throttle
from .validators import client_ip

log = logging.getLogger(__name__)

# Name lookups run here so that a slow DNS server costs the request no more than its deadline (a
# lookup cannot be interrupted; a stuck one holds one of these threads, never a request thread).
_LOOKUP_THREADS = 4
_lookups: ThreadPoolExecutor | None = None
_lookups_lock = threading.Lock()


def private_host_allowed(hostname: str) -> bool:
    return bool(hostname) and validate_host(hostname, conf.get("CIMD_PRIVATE_HOSTS"))


class PerAddressLimit:
    """A ``CIMD_REGISTRATION_PERMISSION_CLASSES`` entry: ``CIMD_RATE_LIMIT`` documents fetched per
    client address per ``CIMD_RATE_WINDOW``, as DCR limits registrations (each new URL is a new client).

    DOT asks only for URLs it does not know yet (or whose document is stale). A URL in DOT's failure
    backoff is refused next without a fetch, so it is not counted.
    """

    def has_permission(self, request, client_id: str) -> bool:
        # DOT keeps its failure backoff in Django's default cache: this reads DOT's own state where DOT
        # writes it (the project's shared state, ``sharedstate``, holds none of it).
        if cache.get(cimd._backoff_cache_key(client_id)):
            return True
        try:
            wait = throttle.metadata_fetches_exceeded(client_ip(request))
        except outages.OUTAGES:
            outages.warn("The shared state is unreachable: no metadata documents are fetched")
            return False
        if wait:
            log.warning("CIMD_RATE_LIMIT reached for this address: %r not fetched", client_id)
        return not wait


class _DeadlineSocket(ssl.SSLSocket):
    """A TLS socket whose handshake, reads and writes each get only the time left before its context's
    deadline: a peer sending a byte at a time cannot stretch the fetch past it."""

    def _arm(self) -> None:
        remaining = self.context.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the client_id document fetch ran out of time")
        self.settimeout(remaining)

    def do_handshake(self, *args, **kwargs):
        self._arm()
        return super().do_handshake(*args, **kwargs)

    def read(self, *args, **kwargs):
        self._arm()
        return super().read(*args, **kwargs)

    def send(self, *args, **kwargs):
        self._arm()
        return super().send(*args, **kwargs)


def _deadline_context(deadline: float) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.sslsocket_class = _DeadlineSocket
    context.deadline = deadline
    return context


def _lookup_pool() -> ThreadPoolExecutor:
    global _lookups
    with _lookups_lock:
        if _lookups is None:
            _lookups = ThreadPoolExecutor(_LOOKUP_THREADS, thread_name_prefix="cimd-lookup")
        return _lookups


def _addresses(hostname: str, port: int, deadline: float) -> list[str]:
    """The host's addresses, looked up within the deadline."""
    future = _lookup_pool().submit(socket.getaddrinfo, hostname, port, proto=socket.IPPROTO_TCP)
    try:
        infos = future.result(timeout=max(0.0, deadline - time.monotonic()))
    except LookupTimeout as exc:
        future.cancel()
        raise cimd.CIMDError("could not resolve client_id host in time") from exc
    except socket.gaierror as exc:
        raise cimd.CIMDError(f"could not resolve client_id host: {exc}") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise cimd.CIMDError("client_id host did not resolve to any address")
    return addresses


def _refuse_private(addresses: list[str]) -> None:
    """DOT's rule: every address must be public, or the host is refused (no cherry-picking)."""
    for address in addresses:
        if not cimd._ip_is_public(address):
            raise cimd.CIMDError(f"client_id host resolves to a non-public address ({address})")


class MetadataFetcher(cimd.SafeMetadataFetcher):
    def fetch(self, client_id):
        """A client's metadata document, as DOT builds its client from it (``registration.document_for_dot``)."""
        data, max_age = self.fetch_json(client_id)
        try:
            return registration.document_for_dot(client_id, data), max_age
        except ValueError as exc:
            raise cimd.CIMDError(f"invalid client metadata: {exc}") from exc

    def fetch_json(self, url: str):
        """(the JSON object at ``url``, its max-age) under the rules above; the client's JWK Set too."""
        # DOT's URL rules (https, host, path, no userinfo, fragment or dot segments) apply first.
        parsed = cimd._validate_client_id_url(url)
        deadline = time.monotonic() + oauth2_settings.CIMD_FETCH_TIMEOUT_SECONDS
        addresses = _addresses(parsed.hostname, parsed.port or 443, deadline)
        if not private_host_allowed(parsed.hostname):
            _refuse_private(addresses)
        return self._fetch_pinned(parsed, addresses, deadline)

    def _fetch_pinned(self, parsed, addresses: list[str], deadline: float):
        """One GET to each address in turn, connecting to the address checked (SNI, certificate and
        ``Host`` name the real host, so a second lookup cannot rebind it), all before the deadline."""
        port = parsed.port or 443
        path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        headers = {"Host": parsed.netloc, "Accept": "application/json, application/*+json"}
        context = _deadline_context(deadline)
        failure = None
        for address in addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            pool = urllib3.HTTPSConnectionPool(
                host=address,
                port=port,
                timeout=urllib3.Timeout(connect=remaining, read=remaining, total=remaining),
                retries=False,
                maxsize=1,
                ssl_context=context,
                server_hostname=parsed.hostname,
            )
            try:
                response = pool.urlopen("GET", path, headers=headers, redirect=False, preload_content=False)
                try:
                    return self._read_document(response)
                finally:
                    response.release_conn()
            except (urllib3.exceptions.HTTPError, OSError) as exc:  # the deadline's TimeoutError included
                failure = exc
            finally:
                pool.close()
        raise cimd.CIMDError(f"could not fetch client_id document: {failure or 'out of time'}")

    def _read_document(self, response):
        """DOT's checks (status, JSON type, size cap, an object), then the client-metadata limits."""
        try:
            data, max_age = super()._read_document(response)
        except RecursionError as exc:  # the standard library's decoder on deep nesting
            raise cimd.CIMDError("client_id document is nested too deeply") from exc
        problem = metadata.problem(data)
        if problem is not None:
            raise cimd.CIMDError(f"invalid client metadata: {problem[1]}")
        return data, max_age

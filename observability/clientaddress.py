"""The client's address: the peer, or behind trusted proxies the first untrusted X-Forwarded-For hop.

Computed once per request by ``ObservabilityMiddleware`` (outermost in ``MIDDLEWARE``) and
read through ``of`` by every rate limit, lockout and log line. ``REMOTE_ADDR`` stays the peer's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import lru_cache

from . import conf

# A WSGI extension key (PEP 3333): no client header can set it (those all start with HTTP_).
META_KEY = "observability.client_address"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def trusted_networks() -> tuple[Network, ...]:
    """``OBSERVABILITY["TRUSTED_PROXIES"]``: the proxies whose ``X-Forwarded-For`` is believed."""
    return _networks(tuple(conf.get("TRUSTED_PROXIES")))


def _parse(text: str) -> Address | None:
    """One address as a proxy writes it (``[v6]:port`` and ``v4:port`` too); None when it is not one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def resolve(meta: Mapping[str, str]) -> str:
    """The client's address for a request's ``META``.

    From a peer outside ``TRUSTED_PROXIES`` (or with none configured): the peer, header ignored.
    From a trusted proxy: ``X-Forwarded-For`` read right to left, skipping trusted addresses; the
    first untrusted one is the client (entries to its left are whatever the client claimed). An
    unreadable entry ends the walk at the last trusted hop.
    """
    peer = meta.get("REMOTE_ADDR", "")
    if not conf.get("TRUSTED_PROXIES"):  # the usual case, and the default: one dictionary lookup
        return peer
    trusted = trusted_networks()
    current = _parse(peer)
    if current is None or not _within(current, trusted):
        return peer
    for entry in reversed(meta.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        hop = _parse(entry)
        if hop is None:
            break
        current = hop
        if not _within(hop, trusted):
            break
    return str(current)


def _within(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def of(meta: Mapping[str, str]) -> str:
    """The client's address, as the middleware settled it (computed here for a request it never saw)."""
    return meta.get(META_KEY) or resolve(meta)


@lru_cache(maxsize=4096)
def bucket(address: str) -> str:
    """What a rate limit or lockout counts: an IPv4 address as is, an IPv6 address by its /64 (one
    subscriber's usual allocation, and an attacker's for free)."""
    parsed = _parse(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed) if parsed is not None else address

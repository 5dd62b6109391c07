"""Who may read ``/metrics``: direct connections from the allowed networks, never proxied requests."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.http import HttpRequest

from . import conf

# A request that came through a reverse proxy carries one of these; its REMOTE_ADDR is the proxy's.
FORWARDED = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP")


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return _networks(tuple(conf.get("METRICS_ALLOWED_NETWORKS")))


def allowed(request: HttpRequest) -> bool:
    """Whether the connecting address is on the allow-list and no proxy stands in between."""
    if any(key in request.META for key in FORWARDED):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks())

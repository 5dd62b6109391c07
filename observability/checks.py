"""System checks for the observability settings: a bad network fails at start-up, not on each request."""

from __future__ import annotations

import ipaddress

from django.core.checks import Error, register

from . import conf


@register()
def check_trusted_proxies(app_configs, **kwargs) -> list[Error]:
    errors = []
    for entry in conf.get("TRUSTED_PROXIES"):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            errors.append(
                Error(
                    f"TRUSTED_PROXIES holds {entry!r}, which is not an address or a network.",
                    hint="List addresses or CIDR networks, e.g. TRUSTED_PROXIES=127.0.0.1,10.0.0.0/8.",
                    id="observability.E001",
                )
            )
    return errors

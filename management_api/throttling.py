"""The management API's rate limit: requests per caller per window, counted in the shared state.

The rate is DRF's own setting, ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["management"]`` (``"600/minute"``
by default, ``MANAGEMENT_API_RATE``; ``None`` turns the limit off), read at each request. The count is
``authserver.throttle``'s fixed-window counter in ``sharedstate``, so one limit holds across every
worker and instance (DRF's own throttles keep their history in Django's cache, per cache). A caller
over the limit gets DRF's 429 ``{"detail": …}`` with ``Retry-After``, the seconds until the window ends.
While the shared state is unreachable, requests are let through uncounted (with a warning now and then).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from authserver import outages, throttle

SCOPE = "management"


class CallerRateThrottle(SimpleRateThrottle):
    """At most ``N`` requests per period by one caller: the user behind the request, whether named by a
    token's subject or by the admin session. A request without a user (refused before throttles run)
    is not counted."""

    scope = SCOPE

    def __init__(self) -> None:
        super().__init__()
        self.seconds_to_wait = 0

    def get_rate(self) -> str | None:
        """The rate of ``scope`` as the settings say now (DRF's class attribute is read once, at import)."""
        self.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
        return super().get_rate()

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        """The caller's identity: the user's primary key (None: no user to count)."""
        pk = getattr(request.user, "pk", None)
        return None if pk is None else f"user {pk}"

    def allow_request(self, request: Any, view: Any) -> bool:
        caller = self.get_cache_key(request, view) if self.rate is not None else None
        if caller is None:
            return True
        try:
            self.seconds_to_wait = throttle.requests_exceeded(
                f"api-{self.scope}", caller, self.num_requests, self.duration
            )
        except outages.OUTAGES:
            # An admin may need the API most while the shared state is down; a caller let in is a
            # user with the admin scopes, so the limit gives way rather than the API.
            outages.warn("The shared state is unreachable: the management API's rate limit is not counted")
            return True
        return not self.seconds_to_wait

    def wait(self) -> int | None:
        return self.seconds_to_wait or None


def rate_problem() -> str | None:
    """Why the configured rate cannot be used (None: it can), for the system check."""
    try:
        limit = CallerRateThrottle()
    except ImproperlyConfigured as exc:
        return str(exc)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return "it is not of the form <requests>/<second|minute|hour|day>"
    if limit.rate is not None and limit.num_requests < 1:
        return "it allows no request at all"
    return None

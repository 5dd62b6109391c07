"""RFC 8628 device authorizations, the issuer's side: begun at the device authorization endpoint, found
by the user code a person types, decided on the consent page, spent by the polling device.

DOT's ``DeviceGrant`` row holds the codes, the client, the scopes, the polling interval and the status;
the RFC 8707 resources the device asked for are its ``DeviceAudience``. A person's decision narrows the
scopes to what they may grant (the client's ceiling and their roles) and what they left ticked; the
token poll narrows them once more (``validators.OAuth2Validator.validate_device_code``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import get_device_grant_model

from . import consents, scopes
from .models import DeviceAudience

DeviceGrant = get_device_grant_model()


@transaction.atomic
def begin(client_id: str, answer: dict[str, Any], audience: list[str]):
    """Record the device authorization answered with ``answer`` (its RFC 8628 §3.2 fields, and the
    scopes it asked for narrowed to the client's ceiling) for these resources."""
    device = DeviceGrant.objects.create(
        client_id=client_id,
        device_code=answer["device_code"],
        user_code=answer["user_code"],
        scope=answer.get("scope", ""),
        interval=answer["interval"],
        expires=timezone.now() + timedelta(seconds=answer["expires_in"]),
    )
    DeviceAudience.objects.create(device_grant=device, resource=list(audience))
    return device


def normalized(user_code: str) -> str:
    """A user code as typed, read the way it was issued: case and separators ignored (RFC 8628 §6.1)."""
    return re.sub(r"[^0-9A-Za-z]", "", user_code or "").upper()


def pending(user_code: str):
    """The undecided, unexpired device authorization with this user code, or None."""
    code = normalized(user_code)
    if not code:
        return None
    live = DeviceGrant.objects.filter(user_code=code, status=DeviceGrant.AUTHORIZATION_PENDING)
    return live.filter(expires__gt=timezone.now()).order_by("-pk").first()


def audience(device) -> list[str]:
    """The resources the device's tokens are for (and the consent is about)."""
    return list(
        DeviceAudience.objects.filter(device_grant=device).values_list("resource", flat=True).first() or []
    )


def offered(device, application, user) -> list[str]:
    """The scopes this user may grant the device: what it asked for, within the client's ceiling and
    the user's roles."""
    return scopes.effective_scopes((device.scope or "").split(), application, user)


def remembered(device, application, user) -> bool:
    """Whether the user's remembered consent for this client already covers everything offered."""
    return consents.covers(user, application, offered(device, application, user), audience(device))


def decide(device, user, granted: list[str]) -> bool:
    """Approve the device for ``user`` with ``granted`` (none: deny it). False when it was decided or
    expired meanwhile: a decision is made once."""
    status = DeviceGrant.AUTHORIZED if granted else DeviceGrant.DENIED
    undecided = DeviceGrant.objects.filter(
        pk=device.pk, status=DeviceGrant.AUTHORIZATION_PENDING, expires__gt=timezone.now()
    )
    return bool(undecided.update(status=status, user=user, scope=" ".join(granted) or device.scope))

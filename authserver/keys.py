"""The only code that touches private keys: the current signing key, verifying keys, JWKS, rotation.

Parsed key objects are kept per process by ``kid``: a PEM is parsed once per key and process, never
per signature (parsing is far dearer than signing). Which key is current is kept per process under a
stamp of the ``signing-keys`` change feed (``sharedstate.stamps``): every creation, rotation,
retirement or withdrawal announces a change, so every worker of every instance signs with the new
key from its next signature on, without a restart. Only without a change feed (Redis unreachable, a
database other hosts share without Redis) is the current key re-read at most every
``SIGNING_KEY_RECHECK_SECONDS`` instead. A retired key keeps verifying, so a token signed with it
meanwhile stays valid, until the last token it can have signed has expired. A key retired as
compromised leaves the JWKS at once, and resource servers are told through the deny-list
(``revoking.withdraw_keys``) to reload their keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import transaction
from django.db.models import Max
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from jwt.algorithms import RSAAlgorithm

import sharedstate
from sharedstate.stamps import Stamp

from . import conf, outages, revoking
from .models import SigningKey, access_tokens

TOPIC = "signing-keys"

_private_keys: dict[str, rsa.RSAPrivateKey] = {}
_lock = threading.Lock()
_current: tuple[str, Stamp] | None = None  # (kid, the stamp taken before reading it)


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an RSA public key."""
    canonical = json.dumps(
        {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _public_jwk(private_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    jwk = {"kty": "RSA", "n": jwk["n"], "e": jwk["e"]}
    kid = thumbprint(jwk)
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def create_key() -> SigningKey:
    """Generate a new RSA key and store it as the current signing key."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=conf.get("SIGNING_KEY_SIZE"))
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    jwk = _public_jwk(private_key)
    key = SigningKey.objects.create(kid=jwk["kid"], private_key=pem, public_jwk=jwk)
    with _lock:
        _private_keys[key.kid] = private_key
    return key


# Beyond the last expiry: verifiers' clock leeway (mcpserver LEEWAY_SECONDS, 30 s) and some slack.
EXPIRY_MARGIN_SECONDS = 60


class RetirementRefused(ValueError):
    """Retiring these keys would leave nothing to sign with."""


def retirement_window() -> int:
    """Seconds a key retired now must keep verifying: until the last live token it may have signed expires.

    Tokens are issued for the default lifetime, or longer by ``issue_token`` (up to
    ``MAX_TOKEN_LIFETIME``); every one is stored, so the latest expiry among live rows is the bound.
    Other processes may sign with the old key for up to ``SIGNING_KEY_RECHECK_SECONDS`` more: with a
    change feed they move to the new key on their next signature, but the feed may be missing (or
    lost, Redis down) right then, and without it they re-read the current key only that often.
    """
    now = timezone.now()
    latest = access_tokens().filter(expires__gt=now).aggregate(latest=Max("expires"))["latest"]
    longest = max(conf.access_token_lifetime(), int((latest - now).total_seconds()) + 1 if latest else 0)
    return longest + conf.get("SIGNING_KEY_RECHECK_SECONDS") + EXPIRY_MARGIN_SECONDS


def rotate(compromised: bool = False) -> SigningKey:
    """Make a new key current. Older keys retire: they keep verifying until their tokens expire, or,
    ``compromised``, every older key is withdrawn at once (its tokens, live or forged, are refused)."""
    with transaction.atomic():
        previous = list(SigningKey.objects.active().select_for_update().values_list("pk", flat=True))
        key = create_key()
        now = timezone.now()
        until = now + timedelta(seconds=retirement_window())
        SigningKey.objects.filter(pk__in=previous).update(retired_at=now, verify_until=until)
        if compromised:
            _withdraw(SigningKey.objects.exclude(pk=key.pk))
        _announce()  # the retirements are updates: no signal announces them
    return key


def retire_compromised(chosen_keys) -> int:
    """Withdraw these keys at once: out of the JWKS, and every resource server refuses their tokens on
    its next request. The current key cannot go this way (nothing would sign): rotate instead."""
    with transaction.atomic():
        chosen = SigningKey.objects.filter(pk__in=[key.pk for key in chosen_keys]).select_for_update()
        if chosen.filter(retired_at__isnull=True).exists():
            raise RetirementRefused(
                "The current signing key cannot be withdrawn on its own: rotate it as compromised "
                "(manage.py rotate_signing_key --compromised), which makes a new key first."
            )
        return _withdraw(chosen)


def _withdraw(chosen) -> int:
    now = timezone.now()
    withdrawn = chosen.filter(compromised_at__isnull=True).update(compromised_at=now, verify_until=now)
    if withdrawn:
        _announce()
        revoking.withdraw_keys()
    return withdrawn


def keys_changed(sender=None, using=None, **kwargs) -> None:
    """A key was saved or deleted: every process re-reads which key is current on its next signature.

    This process forgets at once; others learn it from the ``signing-keys`` feed, at once and again
    when the change commits. A first key made while the feed cannot be told is only logged (nobody
    signs with another key yet); a rotation or withdrawal announces itself as well, and fails instead
    (``_announce``).
    """
    try:
        _announce(using)
    except outages.OUTAGES:
        outages.warn("The shared state is unreachable: other workers learn of a new signing key late")


def _announce(using: str | None = None) -> None:
    """Announce a change to the keys. Raises when it cannot (Redis unreachable: an outage), and the
    caller's transaction with it: a process with a working feed that never heard of a rotation would
    go on signing with the retired key after its retirement window."""
    global _current
    _current = None
    sharedstate.changed(TOPIC, using=using)


post_save.connect(keys_changed, sender=SigningKey, dispatch_uid="authserver-keys-saved")
post_delete.connect(keys_changed, sender=SigningKey, dispatch_uid="authserver-keys-deleted")


def ensure_key() -> SigningKey:
    """Return the current signing key, creating the first one when none exists."""
    return SigningKey.objects.current() or create_key()


def _load_private(kid: str) -> rsa.RSAPrivateKey:
    key = _private_keys.get(kid)
    if key is None:
        pem = SigningKey.objects.values_list("private_key", flat=True).get(kid=kid)
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        with _lock:
            _private_keys[kid] = key
    return key


def current_signing_key() -> tuple[str, rsa.RSAPrivateKey]:
    """The ``kid`` and parsed private key that sign new tokens: re-read when a change to the keys was
    announced since it was read, or (without a change feed) every ``SIGNING_KEY_RECHECK_SECONDS``."""
    global _current
    current = _current
    if current is None or not current[1].holds(TOPIC, without_feed=conf.get("SIGNING_KEY_RECHECK_SECONDS")):
        now = Stamp.take(TOPIC)
        kid = SigningKey.objects.active().order_by("-created", "-id").values_list("kid", flat=True).first()
        current = _current = (kid or ensure_key().kid, now)
    return current[0], _load_private(current[0])


def max_token_lifetime() -> int:
    """The longest lifetime any access token can be issued with (``issue_token`` included)."""
    return max(conf.get("MAX_TOKEN_LIFETIME"), conf.access_token_lifetime())


def jwks() -> dict[str, list[dict[str, Any]]]:
    """Every public key that can still verify a live token, newest first (RFC 7517 JWK Set).

    Never empty: verifiers cache this document, so the first key is created before it is published.
    """
    keys = list(SigningKey.objects.verifying().values_list("public_jwk", flat=True))
    return {"keys": keys or [ensure_key().public_jwk]}

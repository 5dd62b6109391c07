"""Verifying keys from a key source: a dotted path to a callable returning a JWKS, or a JWKS URL.

``KeyRing`` holds one ``KeyCache`` per source (each trusted issuer has its own).

Parsed keys are cached per process by ``kid``; the set is re-read when stale and, when a token names
a ``kid`` we do not know (key rotation): at once when this deployment's issuer announced a change to
its keys since they were read (the ``signing-keys`` change feed; a dotted-path source only, as a URL
names an issuer elsewhere), else at most every ``KEY_REFRESH_INTERVAL`` seconds. While the source
cannot be read, the keys we had keep working and an unknown ``kid`` is a 503, not a 401.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from typing import Any

import jwt
from django.utils.module_loading import import_string

from sharedstate.stamps import Stamp

from . import conf
from .exceptions import ServiceUnavailable

logger = logging.getLogger(__name__)

TOPIC = "signing-keys"  # the change feed this deployment's issuer announces its key changes on

ALGORITHMS = ["RS256"]


def is_url(source: str) -> bool:
    """Whether a key source is a JWKS URL (an issuer elsewhere), not a dotted path (this deployment)."""
    return source.startswith(("https://", "http://"))


def fetch(source: str) -> dict[str, Any]:
    if is_url(source):
        request = urllib.request.Request(source, headers={"Accept": "application/json"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=conf.get("JWKS_TIMEOUT")) as response:  # noqa: S310
            return json.loads(response.read(1024 * 1024))
    return import_string(source)()


def parse(jwks: dict[str, Any]) -> dict[str, Any]:
    keys = {}
    for jwk in jwks.get("keys", []) if isinstance(jwks, dict) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or jwk.get("alg", "RS256") not in ALGORITHMS:
            continue
        if jwk.get("use", "sig") != "sig" or not isinstance(jwk.get("kid"), str):
            continue
        try:
            keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="RS256").key
        except jwt.PyJWTError:
            logger.warning("Ignoring an unusable JWK with kid %r", jwk.get("kid"))
    return keys


class KeyCache:
    """Verifying keys by ``kid``: refreshed when older than ``KEY_CACHE_SECONDS``, and on an unknown
    ``kid`` (at most every ``KEY_REFRESH_INTERVAL`` seconds).

    Concurrent callers wait for a refresh in progress instead of seeing a half-loaded cache.
    """

    def __init__(self, withdrawn: int | None = None, source: str | None = None) -> None:
        self.withdrawn = withdrawn  # the issuer's KEYS_WITHDRAWN value when this cache was made
        self.source = source  # None: KEY_SOURCE
        self._keys: dict[str, Any] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()
        self._failed = False  # the last refresh could not reach the key source
        self._stamp: Stamp | None = None  # of TOPIC, taken before the keys were read (local sources)

    def get(self, kid: str) -> Any:
        key = self._keys.get(kid)
        if key is not None and time.monotonic() - self._loaded_at <= conf.get("KEY_CACHE_SECONDS"):
            return key
        with self._lock:
            age = time.monotonic() - self._loaded_at
            unknown = kid not in self._keys
            if age > conf.get("KEY_CACHE_SECONDS") or (
                unknown and (age >= conf.get("KEY_REFRESH_INTERVAL") or self._announced())
            ):
                self._refresh()
            key = self._keys.get(kid)
        if key is None and self._failed:  # maybe a good key we could not load: try again later
            raise ServiceUnavailable()
        return key

    def _announced(self) -> bool:
        """Whether the issuer announced a change to its keys since they were read (never for a URL)."""
        if self._stamp is None:
            return False
        now = Stamp.take(TOPIC)
        return now.has_feed and not self._stamp.valid(now, without_feed=0)

    def _refresh(self) -> None:
        source = self.source or conf.get("KEY_SOURCE")
        # Stamped before the read, so that a change announced while it runs shows on the next check.
        self._stamp = None if is_url(source) else Stamp.take(TOPIC)
        try:
            self._keys = parse(fetch(source))
            self._failed = False
        except Exception:  # keep the keys we had: an outage of the source must not refuse live tokens
            logger.exception("Could not load verifying keys from %s", self.source or "the key source")
            self._failed = True
        self._loaded_at = time.monotonic()


class KeyRing:
    """One ``KeyCache`` per key source (one per trusted issuer), made on first use."""

    def __init__(self, withdrawn: int | None = None) -> None:
        self.withdrawn = withdrawn  # this server's KEYS_WITHDRAWN value when this ring was made
        self._caches: dict[str, KeyCache] = {}
        self._lock = threading.Lock()

    def for_source(self, source: str) -> KeyCache:
        cache = self._caches.get(source)
        if cache is None:
            with self._lock:
                cache = self._caches.setdefault(source, KeyCache(self.withdrawn, source))
        return cache

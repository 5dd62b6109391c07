"""Verified access tokens this process remembers, so a reused token skips RS256 (``auth``)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from . import conf

if TYPE_CHECKING:
    from .auth import AccessToken


class TokenCache:
    """A bounded LRU of verified tokens by SHA-256; an entry never outlives its token."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, AccessToken]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> AccessToken | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if entry[0] <= time.time():
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return entry[1]

    def put(self, token: AccessToken) -> None:
        until = min(float(token.expires_at), time.time() + conf.get("TOKEN_CACHE_SECONDS"))
        with self._lock:
            self._entries[token.digest] = (until, token)
            self._entries.move_to_end(token.digest)
            while len(self._entries) > conf.get("TOKEN_CACHE_SIZE"):
                self._entries.popitem(last=False)

    def discard(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

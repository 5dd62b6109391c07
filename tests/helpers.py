"""Small helpers shared by test modules."""

from __future__ import annotations

import socket


def redis_available(host: str = "127.0.0.1", port: int = 6379) -> bool:
    """Whether a Redis answers on the usual local port (tests that need one skip otherwise)."""
    try:
        socket.create_connection((host, port), timeout=0.2).close()
        return True
    except OSError:
        return False

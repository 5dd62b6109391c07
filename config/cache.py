"""The shared cache's back ends: Django's own, adapted where measurement showed a cost.

``RedisCache``: Django's built-in Redis cache, with one ``redis.Redis`` client kept per pool.
Django's ``RedisCacheClient.get_client()`` builds a new ``redis.Redis`` object for every cache
operation (its constructor sets up option tables and callbacks): ~60 µs of CPU per ``cache.get``
here, more than the round trip to Redis. The client object is thread-safe (each command borrows a
connection from the pool), so one per pool is kept and reused; pools, connections, reconnection
after a Redis restart and every option stay Django's and redis-py's own.

``DatabaseCache``: Django's database cache that also keeps a *change stamp* for chosen key prefixes
(``OPTIONS["WATCHED_PREFIXES"]``) while its database is SQLite. A reader that must see every write
under such a prefix at once (the revocation deny-list, asked on every ``/mcp`` request) can compare
eight bytes instead of querying: the stamp is rewritten at random after every write under the
prefix commits. SQLite lives on one host, so every process that can write the cache shares the
stamp through a memory-mapped file beside the database (for an in-memory database, the one process
holds it). Other databases may be shared by many hosts: no stamp, readers query as before.

``RedisCache`` offers a change stamp for its watched prefixes too, from Redis's own invalidation
messages (``TrackingStamp``): every instance on every host shares the Redis server that takes the
writes.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import mmap
import os
import ssl
import threading
import time
import weakref
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

logger = logging.getLogger(__name__)


class KeptClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[Any, Any] = {}  # Django's connection pool -> the redis.Redis kept on it

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # Django's own choice of server and its pool
        client = self._clients.get(pool)
        if client is None:
            client = self._clients.setdefault(pool, self._client(connection_pool=pool))
        return client


class RedisCache(DjangoRedisCache):
    """``django.core.cache.backends.redis.RedisCache`` reusing its clients; configured the same way,
    plus ``OPTIONS["WATCHED_PREFIXES"]``: key prefixes that get a change stamp (``TrackingStamp``)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        self.watched = tuple(options.pop("WATCHED_PREFIXES", ()))  # ours, not a redis-py option
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = KeptClientRedisCacheClient
        self._tracking: dict[str, TrackingStamp | None] = {}
        self._tracking_lock = threading.Lock()

    def change_stamp(self, prefix: str) -> TrackingStamp | None:
        """The stamp that changes whenever a key under ``prefix`` is written, or None (a prefix not
        watched, or a key function under which one prefix's keys share no common Redis prefix)."""
        if not self.watched or not prefix.startswith(self.watched):
            return None
        stamp = self._tracking.get(prefix, False)
        if stamp is False:
            with self._tracking_lock:
                stamp = self._tracking.get(prefix, False)
                if stamp is False:
                    redis_prefix = self.make_key(prefix)
                    shared = self.make_key(prefix + "0").startswith(redis_prefix)
                    stamp = TrackingStamp(lambda: self._cache._get_connection_pool(True), redis_prefix)
                    self._tracking[prefix] = stamp = stamp if shared else None
        return stamp


_generations = itertools.count(1)  # stamp values: never repeated within a process, across connections


class TrackingStamp:
    """A change stamp for the Redis keys under one prefix, from Redis's invalidation messages.

    A connection of its own (RESP3, made by redis-py from the cache's pool settings: TLS, password,
    database) asks Redis for invalidation messages about every key under the prefix
    (``CLIENT TRACKING ON BCAST PREFIX``). Redis gathers the keys written during a pass of its event
    loop and queues their messages before it writes any reply of that pass, so once a writer learns
    that its write is done the message is already on its way here, on the same machine's loopback or
    the same network as the writer's own reply (20,000 writes from another connection, each followed
    at once by a read here: no message missed). ``read()`` looks for anything that arrived (without waiting:
    one system call); when something did, it pings on the same connection and reads up to the
    answer, so that everything Redis sent before the ping is in, then moves the stamp on. A reader
    who saw the same value before and after its lookup knows no write under the prefix was
    announced in between.

    While there is no connection ``read()`` answers None (no stamp: readers look every key up) and a
    thread connects; after a failed attempt, the next comes ``RETRY_SECONDS`` later, doubling while
    failures go on (up to ``MAX_RETRY_SECONDS``). A connection that breaks (Redis restarted, say) is
    replaced at once by one with a new value, so nothing seen before it still matches.
    """

    RETRY_SECONDS = 1.0
    MAX_RETRY_SECONDS = 30.0
    SYNC_TIMEOUT = 1.0

    def __init__(self, pool: Any, prefix: str) -> None:
        self._pool, self.prefix = pool, prefix  # pool: a callable giving the redis-py pool to copy
        self._lock = threading.Lock()
        self._connection: Any = None
        self._value: int | None = None
        self._connecting = False
        self._retry_at = 0.0
        self._failures = 0  # connection attempts failed in a row
        self.client_id: int | None = None
        _tracking_stamps.add(self)

    def read(self) -> int | None:
        with self._lock:
            if self._connection is None:
                self._start_connecting()
                return None
            try:
                if self._arrived():
                    self._sync()
                    self._value = next(_generations)
            except Exception:
                logger.warning("Lost Redis's invalidation messages for %s", self.prefix, exc_info=True)
                self._disconnect()
                return None
            return self._value

    def _start_connecting(self) -> None:
        """In a thread of its own, so that no request waits for a connection (or its timeout)."""
        if self._connecting or time.monotonic() < self._retry_at:
            return
        self._connecting = True
        threading.Thread(target=self._connect, name="redis-invalidations", daemon=True).start()

    def _connect(self) -> None:
        connection = None
        try:
            pool = self._pool()
            connection = pool.connection_class(**{**pool.connection_kwargs, "protocol": 3})
            connection.connect()
            connection.send_command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", self.prefix)
            reply = connection.read_response()
            if reply not in (b"OK", "OK"):
                raise ConnectionError(f"CLIENT TRACKING answered {reply!r}")
            connection.send_command("CLIENT", "ID")
            client_id = connection.read_response()  # for CLIENT LIST / CLIENT KILL when operating
            # Messages redis-py read along with these replies are about writes made before any lookup
            # that will see this connection's first value: those lookups see the writes themselves.
            connection._sock.settimeout(0)  # from here on: raw, non-blocking reads of the socket
        except Exception:
            # 1 s, then doubling up to MAX_RETRY_SECONDS while it keeps failing (a proxy that refuses
            # CLIENT TRACKING, say); readers make every lookup meanwhile, so nothing waits for it.
            self._retry_at = time.monotonic() + min(
                self.MAX_RETRY_SECONDS, self.RETRY_SECONDS * 2**self._failures
            )
            self._failures += 1
            # Once per outage, not once a second: the readers' own lookups report the outage too.
            logger.log(
                logging.DEBUG if self._failures > 1 else logging.WARNING,
                "No invalidation messages from Redis for %s: every lookup goes to Redis",
                self.prefix,
                exc_info=True,
            )
            if connection is not None:
                connection.disconnect()
            return
        finally:
            self._connecting = False
        with self._lock:
            self._connection, self._value, self.client_id = connection, next(_generations), client_id
        self._failures = 0

    def _after_fork_in_child(self) -> None:
        # The parent keeps reading its connection; a child reading the same socket would take
        # messages meant for the parent. The child connects anew (the socket is left to the parent).
        self._lock, self._connection, self._value, self._connecting = threading.Lock(), None, None, False

    def _disconnect(self) -> None:
        connection, self._connection, self._value = self._connection, None, None
        with contextlib.suppress(Exception):  # it is broken already
            connection.disconnect()

    def _arrived(self) -> bool:
        try:
            data = self._connection._sock.recv(65536)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
            return False
        if not data:
            raise ConnectionError("Redis closed the connection")
        return True

    def _sync(self) -> None:
        """PING with a random word and read up to its echo: whatever Redis sent before it is read."""
        sock = self._connection._sock
        word = os.urandom(8).hex().encode()
        echo = b"$%d\r\n%s\r\n" % (len(word), word)
        sock.settimeout(self.SYNC_TIMEOUT)
        try:
            sock.sendall(b"".join(self._connection.pack_command("PING", word)))
            seen = b""
            while echo not in seen:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("Redis closed the connection")
                seen = seen[-len(echo) :] + chunk
        finally:
            sock.settimeout(0)


STAMP_SIZE = 8


class ChangeStamp:
    """Eight bytes that every writer rewrites at random and every reader compares with what it saw.

    Random rather than counted: two processes changing it at once need no lock, since any value one
    of them writes differs from every value a reader can have seen before (2**-64 aside).
    """

    def __init__(self, path: str | None) -> None:
        if path is None:  # an in-memory database: no other process can write it
            self._stamp: Any = bytearray(os.urandom(STAMP_SIZE))
            return
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(descriptor).st_size < STAMP_SIZE:
                os.ftruncate(descriptor, STAMP_SIZE)
            self._stamp = mmap.mmap(descriptor, STAMP_SIZE)  # MAP_SHARED: one page for all processes
        finally:
            os.close(descriptor)

    def read(self) -> bytes:
        return bytes(self._stamp[:STAMP_SIZE])

    def change(self) -> None:
        self._stamp[:STAMP_SIZE] = os.urandom(STAMP_SIZE)


class DatabaseCache(DjangoDatabaseCache):
    """``django.core.cache.backends.db.DatabaseCache`` with a change stamp for watched key prefixes."""

    def __init__(self, table: str, params: dict[str, Any]) -> None:
        super().__init__(table, params)
        self.watched = tuple(params.get("OPTIONS", {}).get("WATCHED_PREFIXES", ()))
        self._stamps: dict[Any, ChangeStamp | None] = {}  # database name -> its stamp (None: no stamp)
        self._lock = threading.Lock()
        self._database: str | None = None

    def change_stamp(self, prefix: str) -> ChangeStamp | None:
        """The stamp that changes whenever a key under ``prefix`` is written, or None where there is none
        (a prefix not watched, a database other than SQLite, a stamp file that cannot be opened)."""
        if not self.watched or not prefix.startswith(self.watched):
            return None
        return self._stamp()

    def _stamp(self) -> ChangeStamp | None:
        from django.db import connections

        connection = connections[self._alias()]
        name = connection.settings_dict["NAME"]  # a test run swaps in its test database's name
        stamp = self._stamps.get(name, False)
        if stamp is False:
            with self._lock:
                stamp = self._stamps.get(name, False)
                if stamp is False:
                    if connection.vendor != "sqlite":
                        stamp = None
                    else:
                        stamp = self._open(None if connection.is_in_memory_db() else f"{name}-cache-stamp")
                    self._stamps[name] = stamp
        return stamp

    def _alias(self) -> str:
        """The cache table's database (routers are set at start-up: asked once, not per request)."""
        if self._database is None:
            from django.db import router

            self._database = router.db_for_write(self.cache_model_class)
        return self._database

    @staticmethod
    def _open(path: str | None) -> ChangeStamp | None:
        try:
            return ChangeStamp(path)
        except OSError:
            logger.warning(
                "No change stamp at %s: readers of watched keys query the cache", path, exc_info=True
            )
            return None

    def _changed(self, keys: Any) -> None:
        """After a write under a watched prefix: change the stamp now (readers on this connection see
        the write at once) and again when it commits (for every other connection and process)."""
        if not self.watched or not any(str(key).startswith(self.watched) for key in keys):
            return
        stamp = self._stamp()
        if stamp is None:
            return
        from django.db import transaction

        stamp.change()
        transaction.on_commit(stamp.change, using=self._alias())

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        super().set(key, value, timeout, version)
        self._changed([key])

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        added = super().add(key, value, timeout, version)
        if added:
            self._changed([key])
        return added

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        touched = super().touch(key, timeout, version)
        self._changed([key])
        return touched

    def delete(self, key, version=None):
        deleted = super().delete(key, version)
        self._changed([key])
        return deleted

    def delete_many(self, keys, version=None):
        keys = list(keys)
        super().delete_many(keys, version)
        self._changed(keys)

    def clear(self):
        super().clear()
        self._changed(self.watched)


_tracking_stamps: weakref.WeakSet[TrackingStamp] = weakref.WeakSet()


def _reset_stamps_after_fork() -> None:
    for stamp in list(_tracking_stamps):
        stamp._after_fork_in_child()


os.register_at_fork(after_in_child=_reset_stamps_after_fork)

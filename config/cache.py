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
"""

from __future__ import annotations

import logging
import mmap
import os
import threading
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
    """``django.core.cache.backends.redis.RedisCache`` reusing its clients; configured the same way."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = KeptClientRedisCacheClient


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

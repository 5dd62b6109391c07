"""config.cache.RedisCache: Django's Redis cache, one client object per connection pool, reused."""

from __future__ import annotations

import uuid

import pytest

from config.cache import RedisCache
from tests.helpers import redis_available

pytestmark = pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")


@pytest.fixture
def cache():
    backend = RedisCache("redis://127.0.0.1:6379/15", {"KEY_PREFIX": uuid.uuid4().hex})
    yield backend
    backend.clear()


def test_one_client_serves_every_operation(cache):
    cache.set("a", 1)
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=False) is client
    assert cache._cache.get_client("any key", write=True) is client
    assert cache.get("a") == 1
    assert cache.incr("a") == 2
    assert cache.add("b", "x") and not cache.add("b", "y")
    assert cache.get_many(["a", "b", "c"]) == {"a": 2, "b": "x"}
    cache.delete("a")
    assert cache.get("a") is None


def test_replicas_each_get_their_own_client():
    backend = RedisCache("redis://127.0.0.1:6379/15,redis://127.0.0.1:6379/15", {})
    primary = backend._cache.get_client(write=True)
    replica = backend._cache.get_client(write=False)  # the only replica: index 1
    assert replica is not primary
    assert replica.connection_pool is backend._cache._pools[1]
    assert backend._cache.get_client(write=False) is replica


def test_a_dropped_connection_is_replaced_by_the_pool(cache):
    """The kept client holds no connection of its own: after Redis drops them, the next command reconnects."""
    cache.set("k", "v")
    client = cache._cache.get_client(write=True)
    own = client.client_id()
    client.client_kill_filter(_id=own, skipme=False)
    assert cache.get("k") == "v"  # redis-py retries on a fresh connection from the pool
    assert cache._cache.get_client() is client

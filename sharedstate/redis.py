"""The Redis back end: keys in Redis, change feeds over Redis publish/subscribe.

Keys: one ``redis.Redis`` client per process (thread-safe; each command borrows a pooled connection),
values as JSON, every key under ``KEY_PREFIX``. Counters are ``INCRBY`` plus ``EXPIRE ... NX`` in one
transaction, so a counter's window starts at its first hit.

Change feeds: ``announce`` publishes the topic on one channel; each process keeps one subscribed
connection and counts, per topic, the messages it has read. ``version`` first reads whatever has
arrived, without waiting (one ``poll`` of the socket), then answers (connection generation, count).
Redis queues a published message for every subscriber before it answers the publisher, in the same
pass of its event loop, so once a writer's ``announce`` returns the message is on its way to every
subscriber, ahead of anything the writer says next: a request that follows the change (the writer's
reply reached its client, who sends the next request) finds it read. Only a read on the same host,
made in the instant between the publish and the kernel's delivery, can come before it.

The subscribed connection never reconnects behind our back (no retries): when it breaks (Redis
restarted, a network fault), ``version`` answers None and a thread subscribes anew; the new
connection gets a new generation, so nothing read before the break still matches. While there is no
subscription, readers look every change up. A failed attempt is retried after ``RETRY_SECONDS``,
and after twice as long at each further failure, up to ``MAX_RETRY_SECONDS``.

Messages: a list per channel under the key prefix. ``send`` appends (``RPUSH``, trimmed to
``MAX_MESSAGES``, expiring ``ttl`` seconds after the last message); ``receive`` takes the oldest with
``BLPOP``. A list rather than publish/subscribe: a message waits for its receiver, so it is delivered
whether the receiver began waiting before or after it was sent, and whether or not the receiver's
connection broke in between (a published message reaches only the connections subscribed at that
instant, and would need one subscribed connection per waiting request); ``BLPOP`` hands each
message to one receiver. A blocking pop is asked for in slices shorter than the client's socket
timeout (a longer block would read as a dead server).

Logs: a Redis stream per log. ``append`` is ``XADD`` trimmed to the events kept (``MAXLEN``) with the
key's expiry renewed, the stream's own entry id being the event id; ``read`` is ``XREAD BLOCK`` from
the id given, in the same slices as ``receive``.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import re
import threading
import time
import weakref
from typing import Any

import orjson
import redis
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.retry import Retry

from .base import MAX_MESSAGES, MAX_READ, Backend

logger = logging.getLogger(__name__)

_STREAM_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")
_generations = itertools.count(1)  # never repeated within a process, across connections
_live: weakref.WeakSet[RedisState] = weakref.WeakSet()


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def _loads(raw: bytes | None) -> Any:
    return None if raw is None else orjson.loads(raw)


class RedisState(Backend):
    RETRY_SECONDS = 1.0
    MAX_RETRY_SECONDS = 30.0

    def __init__(self, location: str, key_prefix: str = "", options: dict[str, Any] | None = None) -> None:
        self.location, self.options = location, dict(options or {})
        self.prefix = f"{key_prefix}:" if key_prefix else ""
        # Channels ignore Redis's database numbers: the database goes into the name, so deployments
        # sharing a server on different databases hear only their own announcements.
        database = parse_url(location).get("db", 0) if "://" in location else 0
        self.channel = f"{self.prefix}sharedstate:changes:{database}"
        # What CLIENT LIST shows for each process's subscription (names may not contain spaces).
        self.feed_name = f"{self.prefix}sharedstate-feed".replace(" ", "_")
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()  # guards the subscription (a PubSub object is not thread-safe)
        self._pubsub: Any = None
        self._generation: int | None = None
        self._counts: collections.Counter[str] = collections.Counter()
        self._connecting = False
        self._retry_at = 0.0
        self._failures = 0
        _live.add(self)

    @property
    def client(self) -> redis.Redis:
        client = self._client
        if client is None:
            client = self._client = redis.Redis.from_url(self.location, **self.options)
        return client

    def _key(self, key: str) -> str:
        return self.prefix + key

    # --- keys -------------------------------------------------------------------------------------

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        if not keys:
            return {}
        values = self.client.mget([self._key(key) for key in keys])
        return {key: _loads(raw) for key, raw in zip(keys, values, strict=True) if raw is not None}

    def set(self, key: str, value: Any, ttl: int | None) -> None:
        if ttl is not None and ttl <= 0:
            self.client.delete(self._key(key))
            return
        self.client.set(self._key(key), _dumps(value), ex=ttl)

    def add(self, key: str, value: Any, ttl: int | None) -> bool:
        if ttl is not None and ttl <= 0:
            return False
        return bool(self.client.set(self._key(key), _dumps(value), ex=ttl, nx=True))

    def delete(self, key: str) -> None:
        self.client.delete(self._key(key))

    def clear(self) -> None:
        client = self.client
        batch = []
        for name in client.scan_iter(match=self.prefix.replace("*", r"\*") + "*", count=1000):
            batch.append(name)
            if len(batch) >= 1000:
                client.delete(*batch)
                batch.clear()
        if batch:
            client.delete(*batch)

    def incr(self, key: str, amount: int, ttl: int) -> int:
        name = self._key(key)
        pipe = self.client.pipeline(transaction=True)
        pipe.incrby(name, amount)
        pipe.expire(name, max(1, int(ttl)), nx=True)
        return int(pipe.execute()[0])

    def ping(self) -> None:
        self.client.ping()
        super().ping()

    # --- messages -------------------------------------------------------------------------------------

    def send(self, channel: str, payload: dict[str, Any], ttl: int) -> None:
        name = self._key("sharedstate:messages:" + channel)
        pipe = self.client.pipeline(transaction=True)
        pipe.rpush(name, _dumps(payload))
        pipe.ltrim(name, 0, MAX_MESSAGES - 1)
        pipe.expire(name, max(1, int(ttl)))
        pipe.execute()

    def receive(self, channel: str, timeout: float) -> dict[str, Any] | None:
        name = self._key("sharedstate:messages:" + channel)
        longest = self._longest_block()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining < 0.01:  # BLPOP would read a zero timeout as "forever"
                return _loads(self.client.lpop(name))
            popped = self.client.blpop([name], timeout=min(remaining, longest))
            if popped is not None:
                return _loads(popped[1])

    # --- logs -------------------------------------------------------------------------------------

    def append(self, log: str, event: dict[str, Any], keep: int, ttl: int) -> str:
        name = self._key("sharedstate:log:" + log)
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(name, {"e": _dumps(event)}, maxlen=max(1, keep), approximate=False)
        pipe.expire(name, max(1, int(ttl)))
        return pipe.execute()[0].decode()

    def end(self, log: str) -> str:
        last = self.client.xrevrange(self._key("sharedstate:log:" + log), count=1)
        return last[0][0].decode() if last else "0-0"

    def read(self, log: str, after: str, timeout: float) -> list[tuple[str, dict[str, Any]]]:
        if not (isinstance(after, str) and _STREAM_ID.match(after)):
            raise ValueError(f"not an event id of this log: {after!r}")
        name = self._key("sharedstate:log:" + log)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining < 0.001:  # XREAD would read a zero block as "forever"
                return _entries(self.client.xrange(name, min="(" + after, count=MAX_READ))
            block = int(min(remaining, self._longest_block()) * 1000)
            found = self.client.xread({name: after}, count=MAX_READ, block=max(1, block))
            if found:
                return _entries(found[0][1])

    def _longest_block(self) -> float:
        socket_timeout = self.options.get("socket_timeout")
        return max(0.1, socket_timeout - 0.5) if socket_timeout else 5.0

    # --- change feeds -----------------------------------------------------------------------------

    def announce(self, topic: str) -> None:
        self.client.publish(self.channel, topic)
        # This process's own readers need no message: they see the change at once. (The message, when
        # it comes back over the subscription, moves the count once more: one lookup too many.)
        with self._lock:
            if self._pubsub is not None:
                self._counts[topic] += 1

    def version(self, topic: str) -> tuple[int, int] | None:
        with self._lock:
            pubsub = self._pubsub
            if pubsub is None:
                self._start_subscribing()
                return None
            try:
                # can_read first: the usual answer (nothing arrived) without get_message's machinery.
                while pubsub.connection.can_read(timeout=0):
                    message = pubsub.get_message(timeout=0)
                    if message is None:
                        break
                    if message["type"] == "message":
                        self._counts[message["data"].decode()] += 1
            except Exception:
                logger.warning("Lost the shared-state change feed: every change is looked up", exc_info=True)
                self._drop()
                return None
            return self._generation, self._counts[topic]

    def _start_subscribing(self) -> None:
        """In a thread of its own, so that no request waits for a connection (or its timeout)."""
        if self._connecting or time.monotonic() < self._retry_at:
            return
        self._connecting = True
        threading.Thread(target=self._subscribe, name="sharedstate-changes", daemon=True).start()

    def _subscribe(self) -> None:
        pubsub = None
        try:
            # A client of its own that never retries: a broken subscription must surface as an error
            # (and a new generation), not be silently re-made with the messages of the gap lost.
            options = {**self.options, "retry": Retry(NoBackoff(), 0), "client_name": self.feed_name}
            client = redis.Redis.from_url(self.location, **options)
            pubsub = client.pubsub()
            pubsub.subscribe(self.channel)
            deadline = time.monotonic() + float(self.options.get("socket_timeout") or 5)
            while True:  # the confirmation: from here on, every publish reaches this connection
                message = pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
                if message is not None and message["type"] == "subscribe":
                    break
                if time.monotonic() >= deadline:
                    raise TimeoutError("Redis did not confirm the subscription")
        except Exception:
            self._retry_at = time.monotonic() + min(
                self.MAX_RETRY_SECONDS, self.RETRY_SECONDS * 2**self._failures
            )
            self._failures += 1
            # Once per outage, not once a second: the readers' own lookups report the outage too.
            logger.log(
                logging.DEBUG if self._failures > 1 else logging.WARNING,
                "No shared-state change feed from Redis: every change is looked up",
                exc_info=True,
            )
            if pubsub is not None:
                pubsub.close()
            return
        finally:
            self._connecting = False
        with self._lock:
            self._pubsub, self._generation = pubsub, next(_generations)
            self._counts.clear()
        self._failures = 0

    def _drop(self) -> None:
        pubsub, self._pubsub, self._generation = self._pubsub, None, None
        try:
            pubsub.close()
        except Exception:  # noqa: S110  (it is broken already)
            pass

    def close(self) -> None:
        with self._lock:
            if self._pubsub is not None:
                self._drop()
        if self._client is not None:
            self._client.close()
            self._client = None

    def _after_fork_in_child(self) -> None:
        # The parent keeps its subscription; a child reading the same socket would take its messages.
        self._lock, self._pubsub, self._generation, self._connecting = threading.Lock(), None, None, False


def _entries(entries: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(entry_id.decode(), _loads(fields[b"e"])) for entry_id, fields in entries]


def _after_fork() -> None:
    for state in list(_live):
        state._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork)

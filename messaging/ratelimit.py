"""Per-user rate limits for chat messages, task comments and typing events.

A sliding-window counter (two fixed windows, the previous one weighted by how much of it still
overlaps the last `seconds`) kept in the Django cache: `cache.incr` is atomic, so the count is
shared by every process when the cache is Redis, and each hit costs a few cache calls. Every
attempt counts, refused ones too, so a client that keeps flooding climbs past
`CLOSE_FACTOR` x the limit and its socket is closed. With the Redis cache a hit is one round
trip (a pipeline: SET NX EX, INCR, GET of the previous window). If the cache is unreachable
the limiter falls back to counters in this process: a cache outage never refuses or fails a
request.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
import weakref
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

# Buckets: one per user and kind. HTTP and WebSocket posts of one kind share a bucket.
CHAT = "chat"
COMMENT = "comment"
TYPING = "typing"
UPLOAD = "upload"  # issue 12: attachment uploads
WEBHOOK = "webhook"  # issue 15: posts per incoming webhook (keyed by its bot user)
# A socket that keeps sending until this many times its limit is closed.
CLOSE_FACTOR = 2

# Wall-clock seconds (windows must line up across processes); tests replace it.
clock = time.time

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*\.?\d*)\s*([smh]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """ "20/10s", "5/s", "100/m", "1000/h"."""
        match = _RATE.match(text)
        if not match or not (match[2] or match[3]):
            raise ValueError(f"bad rate {text!r}: expected e.g. '20/10s'")
        count, amount, unit = match.groups()
        seconds = float(amount or 1) * _UNIT_SECONDS[unit]
        if int(count) < 1 or seconds <= 0:
            raise ValueError(f"bad rate {text!r}: count and period must be positive")
        return cls(int(count), seconds)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: float  # estimated attempts in the last window, this one included
    rate: Rate

    @property
    def abusive(self) -> bool:
        """Still sending well past the limit after being told: close the socket."""
        return self.count > self.rate.count * CLOSE_FACTOR

    @property
    def retry_after(self) -> int:
        return max(1, round(self.rate.seconds))

    @property
    def message(self) -> str:
        return (
            f"You are sending too fast (limit {self.rate.count} per "
            f"{self.rate.seconds:g} s); wait a few seconds and try again."
        )


def rate_for(bucket: str) -> Rate:
    if bucket == UPLOAD:
        return Rate.parse(settings.ATTACHMENT_RATE_LIMIT)
    if bucket == WEBHOOK:
        return Rate.parse(settings.WEBHOOK_RATE_LIMIT)
    return Rate.parse(settings.TYPING_RATE_LIMIT if bucket == TYPING else settings.CHAT_RATE_LIMIT)


def hit(*, bucket: str, user_id: int, now: float | None = None) -> Decision:
    """Count one attempt by the user in the bucket and decide whether it may go ahead."""
    rate, now, window, prefix, ttl = _window(bucket, user_id, now)
    try:
        current, previous = _count(prefix + str(window), prefix + str(window - 1), ttl)
    except Exception as exc:  # cache outage: limit per process instead
        logger.warning("rate-limit cache unavailable (%r); counting in this process", exc)
        current, previous = _local.incr(prefix, window, ttl)
    return _decide(rate, now, window, current, previous)


async def ahit(*, bucket: str, user_id: int) -> Decision:
    """`hit` from an event loop (the consumers). With the Redis cache it is the same pipeline
    on an asyncio client, so a frame costs no hop to a worker thread (each hop waits for a CPU
    on a busy machine); with another cache, `hit` runs in a worker thread."""
    backend = _redis_backend()
    if backend is None:
        return await sync_to_async(hit, thread_sensitive=False)(bucket=bucket, user_id=user_id)
    rate, now, window, prefix, ttl = _window(bucket, user_id, None)
    try:
        pipe = _async_client(backend).pipeline(transaction=False)
        full_key = cache.make_and_validate_key(prefix + str(window))
        pipe.set(full_key, 0, ex=ttl, nx=True)
        pipe.incr(full_key)
        pipe.get(cache.make_and_validate_key(prefix + str(window - 1)))
        _created, current, previous = await pipe.execute()
        current, previous = int(current), int(previous or 0)
    except Exception as exc:
        logger.warning("rate-limit cache unavailable (%r); counting in this process", exc)
        current, previous = _local.incr(prefix, window, ttl)
    return _decide(rate, now, window, current, previous)


def _window(bucket: str, user_id: int, now: float | None) -> tuple[Rate, float, int, str, int]:
    rate = rate_for(bucket)
    now = clock() if now is None else now
    window = int(now // rate.seconds)
    prefix = f"ratelimit:{bucket}:{user_id}:"
    ttl = int(rate.seconds * 2) + 1
    return rate, now, window, prefix, ttl


def _decide(rate: Rate, now: float, window: int, current: int, previous: int) -> Decision:
    overlap = 1 - (now / rate.seconds - window)
    count = previous * overlap + current
    return Decision(allowed=count <= rate.count, count=count, rate=rate)


_SOCKET_OPTIONS = ("socket_connect_timeout", "socket_timeout", "socket_keepalive")
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _async_client(backend):
    """One redis.asyncio client per event loop and cache server."""
    import redis.asyncio

    from messaging import layers

    loop = asyncio.get_running_loop()
    url = backend._servers[0]
    clients = _async_clients.setdefault(loop, {})
    client = clients.get(url)
    if client is None:
        options = {k: v for k, v in backend._options.items() if k in _SOCKET_OPTIONS}
        client = clients[url] = redis.asyncio.Redis(
            connection_pool=layers.blocking_pool(address=url, **options)
        )
    return client


def _redis_backend():
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    backend = caches["default"]
    return backend if isinstance(backend, RedisCache) else None


def _count(key: str, previous_key: str, ttl: int) -> tuple[int, int]:
    """(attempts in this window including this one, attempts in the previous window)."""
    client = _redis_client(key)
    if client is None:
        return _cache_incr(key, ttl), cache.get(previous_key) or 0
    # Django's RedisCache stores ints unserialized, so these keys stay readable by cache.get.
    full_key = cache.make_and_validate_key(key)
    pipe = client.pipeline(transaction=False)
    pipe.set(full_key, 0, ex=ttl, nx=True)  # a new window starts at 0 with its expiry
    pipe.incr(full_key)
    pipe.get(cache.make_and_validate_key(previous_key))
    _created, current, previous = pipe.execute()
    return int(current), int(previous or 0)


def _redis_client(key: str):
    """The redis-py client behind Django's RedisCache, or None for another cache."""
    backend = _redis_backend()
    return backend._cache.get_client(key, write=True) if backend is not None else None


def _cache_incr(key: str, ttl: int) -> int:
    try:
        return cache.incr(key)
    except ValueError:  # no such key yet (or it just expired)
        if cache.add(key, 1, timeout=ttl):
            return 1
        return cache.incr(key)


class _LocalCounters:
    """The fallback: the same windows in a dict, pruned as windows pass."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, tuple[int, float]] = {}  # key -> (count, expires at)

    def incr(self, prefix: str, window: int, ttl: int) -> tuple[int, int]:
        now = time.monotonic()
        with self.lock:
            if len(self.counts) > 10_000:
                self.counts = {k: v for k, v in self.counts.items() if v[1] > now}
            key, prev_key = prefix + str(window), prefix + str(window - 1)
            count, expires = self.counts.get(key, (0, now + ttl))
            if expires <= now:
                count, expires = 0, now + ttl
            self.counts[key] = (count + 1, expires)
            previous, prev_expires = self.counts.get(prev_key, (0, 0.0))
            return count + 1, previous if prev_expires > now else 0


_local = _LocalCounters()

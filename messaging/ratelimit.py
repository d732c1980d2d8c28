"""Per-user rate limits for chat messages, task comments and typing events.

A sliding-window counter (two fixed windows, the previous one weighted by how much of it still
overlaps the last `seconds`) kept in the Django cache: `cache.incr` is atomic, so the count is
shared by every process when the cache is Redis, and each hit costs a few cache calls. Every
attempt counts, refused ones too, so a client that keeps flooding climbs past
`CLOSE_FACTOR` x the limit and its socket is closed. If the cache is unreachable the limiter
falls back to counters in this process: a cache outage never refuses or fails a request.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

# Buckets: one per user and kind. HTTP and WebSocket posts of one kind share a bucket.
CHAT = "chat"
COMMENT = "comment"
TYPING = "typing"
UPLOAD = "upload"  # issue 12: attachment uploads
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
    return Rate.parse(settings.TYPING_RATE_LIMIT if bucket == TYPING else settings.CHAT_RATE_LIMIT)


def hit(*, bucket: str, user_id: int, now: float | None = None) -> Decision:
    """Count one attempt by the user in the bucket and decide whether it may go ahead."""
    rate = rate_for(bucket)
    now = clock() if now is None else now
    window = int(now // rate.seconds)
    prefix = f"ratelimit:{bucket}:{user_id}:"
    ttl = int(rate.seconds * 2) + 1
    try:
        current = _cache_incr(prefix + str(window), ttl)
        previous = cache.get(prefix + str(window - 1)) or 0
    except Exception as exc:  # cache outage: limit per process instead
        logger.warning("rate-limit cache unavailable (%r); counting in this process", exc)
        current, previous = _local.incr(prefix, window, ttl)
    overlap = 1 - (now / rate.seconds - window)
    count = previous * overlap + current
    return Decision(allowed=count <= rate.count, count=count, rate=rate)


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

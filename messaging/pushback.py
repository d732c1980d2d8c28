"""Pushback for posts: refuse early and say so, instead of queueing until something drops.

When a process takes posts faster than it can save and deliver them, the queues in front of
the database threads grow, and the channel layer's per-process queue in Redis fills until
channels-redis drops deliveries (it only logs "over capacity"). So a post is admitted only
while fewer than REALTIME_MAX_PENDING_POSTS posts are waiting or running in this process
(sockets and HTTP alike); past that the sender gets a `slow_down` error frame, or HTTP 429
with Retry-After, and the page's outbox sends the message again after `retry_after` seconds.
Nothing is saved for a refused post, so nothing is lost: it was never accepted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

RETRY_AFTER_SECONDS = 1
MESSAGE = "The server is busy; your message will be sent again in a moment."


class _Gate:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending = 0
        self.refused = 0

    def enter(self) -> bool:
        with self.lock:
            if self.pending >= settings.REALTIME_MAX_PENDING_POSTS:
                self.refused += 1
                return False
            self.pending += 1
            return True

    def leave(self) -> None:
        with self.lock:
            self.pending -= 1


gate = _Gate()


@contextmanager
def admitted() -> Iterator[bool]:
    """`with admitted() as ok:` ok is False when the post must be refused with slow_down."""
    ok = gate.enter()
    try:
        yield ok
    finally:
        if ok:
            gate.leave()

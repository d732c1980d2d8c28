"""Pushback for posts: refuse early and say so, instead of queueing until something drops.

When a process takes posts faster than it can save and deliver them, the queues in front of
the database threads grow, and the channel layer's per-process queue in Redis fills until
channels-redis drops deliveries (it only logs "over capacity"). So a post is admitted only
while fewer than REALTIME_MAX_PENDING_POSTS posts are waiting or running in this process
(sockets and HTTP alike; HTTP posts also take turns, `http_post_limit`), and while the last
post took longer than REALTIME_SLOW_POST_SECONDS (the backlog is in front of the sockets, in
their frame queues, where no counter sees it); past that the sender gets
a `slow_down` error frame, or HTTP 429 with Retry-After, and the page's outbox sends the
message again after `retry_after` seconds.
Nothing is saved for a refused post, so nothing is lost: it was never accepted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

RETRY_AFTER_SECONDS = 1
MESSAGE = "The server is busy; your message will be sent again in a moment."


def http_post_limit() -> int:
    """HTTP posts saving at once in this process. Each holds a pooled database connection from
    its session lookup to its commit, and posts to one room wait for each other's row lock: a
    crowd of them (clients falling back to HTTP during an outage) used to take every pooled
    connection, and history back-fills then waited for the pool (fault scenario a). So they
    get the pool minus the sockets' database threads minus two connections kept for reads."""
    pool = getattr(settings, "DB_POOL_SIZE", 0)
    if not pool:
        return settings.REALTIME_MAX_PENDING_POSTS
    return max(1, pool - settings.CONSUMER_DB_THREADS - 2)


# How long an HTTP post may wait for its turn (without a database connection) before 429.
HTTP_POST_WAIT_SECONDS = 10.0


class _Gate:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending = 0
        self.refused = 0
        self._http: threading.Semaphore | None = None
        self.last_latency = 0.0
        self.last_at = float("-inf")

    def slow(self) -> bool:
        """The last post took longer than REALTIME_SLOW_POST_SECONDS and finished within the
        last second: the process is behind (its database threads or its event loop)."""
        return (
            self.last_latency > settings.REALTIME_SLOW_POST_SECONDS
            and time.monotonic() - self.last_at < 1.0
        )

    def note_latency(self, seconds: float) -> None:
        with self.lock:
            self.last_latency = seconds
            self.last_at = time.monotonic()

    @property
    def http_turns(self) -> threading.Semaphore:
        if self._http is None:
            self._http = threading.BoundedSemaphore(http_post_limit())
        return self._http

    def enter(self) -> bool:
        with self.lock:
            # Slow alone is not enough: with nothing else pending, one slow post (a busy
            # machine) is no backlog.
            backlog = self.pending > 0 and self.slow()
            if self.pending >= settings.REALTIME_MAX_PENDING_POSTS or backlog:
                self.refused += 1
                return False
            self.pending += 1
            return True

    def leave(self) -> None:
        with self.lock:
            self.pending -= 1


gate = _Gate()


@contextmanager
def admitted(*, http: bool = False) -> Iterator[bool]:
    """`with admitted() as ok:` ok is False when the post must be refused with slow_down.

    `http=True` for a post made over HTTP: it first waits for one of `http_post_limit` turns,
    having handed its pooled database connection back (the session lookup took one), so a
    queue of posts never holds the connections that reads need. Waiting longer than
    HTTP_POST_WAIT_SECONDS is refused too."""
    if http:
        if not connection.in_atomic_block:
            connection.close()  # back to the pool; the next query borrows one again
        if not gate.http_turns.acquire(timeout=HTTP_POST_WAIT_SECONDS):
            with gate.lock:
                gate.refused += 1
            yield False
            return
    try:
        ok = gate.enter()
        started = time.monotonic()
        try:
            yield ok
        finally:
            if ok:
                gate.leave()
                gate.note_latency(time.monotonic() - started)
    finally:
        if http:
            gate.http_turns.release()

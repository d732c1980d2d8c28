"""The bench's Redis database: claimed for the length of a run, emptied between scenarios.

Two runs on one Redis DB would wreck each other: each empties the DB (dropping the other's
group memberships, so its sockets go deaf), their Celery workers share the `celery` queue,
and their rooms have the same ids (each run's fresh database starts at 1). So a run claims
its DB with a key that expires unless renewed, and a second run on the same DB stops at once
with a message naming the owner.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid

import redis

CLAIM_KEY = "taskflow-bench:claim"
CLAIM_TTL = 30  # seconds; renewed every CLAIM_TTL / 3 while the run lives


class DatabaseInUse(RuntimeError):
    pass


class BenchRedis:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client = redis.Redis.from_url(url, socket_connect_timeout=3)
        self.db = int(self.client.connection_pool.connection_kwargs.get("db", 0))
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def claim(self) -> None:
        self.client.ping()
        if self.db == 0:
            raise RuntimeError(
                f"{self.url}: the bench empties its Redis database; give it its own "
                "(e.g. redis://127.0.0.1:6379/3), not DB 0"
            )
        if not self.client.set(CLAIM_KEY, self.owner, nx=True, ex=CLAIM_TTL):
            holder = self.client.get(CLAIM_KEY)
            raise DatabaseInUse(
                f"Redis DB {self.db} is in use by another bench run "
                f"({holder.decode() if holder else '?'}); wait for it or pass --redis-url with "
                "another DB number"
            )
        self._renewer = threading.Thread(target=self._renew, name="bench-claim", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(CLAIM_TTL / 3):
            # A failed renewal is retried next time; a dead Redis fails the run anyway.
            with contextlib.suppress(redis.RedisError):
                self.client.set(CLAIM_KEY, self.owner, ex=CLAIM_TTL)

    def flush(self) -> None:
        """Empty the DB (ours by claim) and put the claim back."""
        self.client.flushdb()
        self.client.set(CLAIM_KEY, self.owner, ex=CLAIM_TTL)

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=2)
        with contextlib.suppress(redis.RedisError):
            if self.client.get(CLAIM_KEY) == self.owner.encode():
                self.client.flushdb()  # leaves no keys behind, the claim included

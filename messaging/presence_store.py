"""Presence (issue 11): where each user's open connections and their page state are kept, and
the pure rule that turns them into `online`, `away` or `offline`.

A *connection* is one open socket whose page has sent a `heartbeat` frame (the page's
visibility and whether its user is idle). Each user has one record in the cache:

    c:<connection id> -> {"v": visible, "i": idle, "at": last report, "exp": expires at}
    last              -> when the user was last seen active (a visible, non-idle report)
    pub               -> the status last announced to the user's rooms and boards

A connection's `exp` is pushed forward by the server every PRESENCE_CONNECTION_TTL_SECONDS / 3
while its socket is open, and the field is removed when the socket closes. A process that is
killed removes nothing: its connections simply pass their `exp`, and every reader ignores
them from then on (the periodic sweep also deletes them and announces the change).

With the Redis cache (several processes) the record is a Redis hash, so two processes
writing fields of one user never overwrite each other; a set lists the users whose announced
status is not `offline` (what the sweep looks at). Otherwise (embedded: one process, the
local-memory cache) the same record is a dict in the Django cache under a process lock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
STATUSES = (ONLINE, AWAY, OFFLINE)
# A user's record outlives their last connection this long (last seen, last announced).
KEEP_SECONDS = 7 * 24 * 3600
CONN = "c:"


# --- the rule (pure) ----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One user's record as read from the store."""

    connections: dict[str, dict[str, Any]]
    last_active: float | None = None
    published: str | None = None

    @classmethod
    def parse(cls, raw: dict[str, str] | None) -> Entry:
        raw = raw or {}
        connections = {}
        for field, value in raw.items():
            if field.startswith(CONN):
                try:
                    connections[field[len(CONN) :]] = json.loads(value)
                except ValueError:
                    continue
        last = raw.get("last")
        return cls(
            connections=connections,
            last_active=float(last) if last else None,
            published=raw.get("pub") or None,
        )

    def live(self, now: float) -> dict[str, dict[str, Any]]:
        return {cid: c for cid, c in self.connections.items() if c.get("exp", 0) > now}

    def expired(self, now: float) -> list[str]:
        return [cid for cid, c in self.connections.items() if c.get("exp", 0) <= now]


def connection_status(connection: dict[str, Any], *, now: float, online_seconds: float) -> str:
    """A page is online while it said "visible and not idle" less than `online_seconds` ago;
    a page that is hidden, idle, or has gone quiet is away."""
    fresh = now - connection.get("at", 0) < online_seconds
    if connection.get("v") and not connection.get("i") and fresh:
        return ONLINE
    return AWAY


def user_status(entry: Entry, *, now: float, online_seconds: float) -> str:
    """Online if any live connection is online, away if there are live connections, else
    offline."""
    live = entry.live(now)
    if not live:
        return OFFLINE
    if any(
        connection_status(c, now=now, online_seconds=online_seconds) == ONLINE
        for c in live.values()
    ):
        return ONLINE
    return AWAY


# --- storage ------------------------------------------------------------------------------


def user_key(user_id: int) -> str:
    return f"presence:user:{user_id}"


TRACKED_KEY = "presence:tracked"


class RedisStore:
    """Fields of a Redis hash per user (atomic per field across processes), one round trip
    per call (pipelines)."""

    def __init__(self, backend: RedisCache) -> None:
        self.backend = backend

    def _client(self):
        return self.backend._cache.get_client(write=True)

    def _key(self, user_id: int) -> str:
        return self.backend.make_key(user_key(user_id))

    def write(
        self, user_id: int, fields: dict[str, str], *, drop: Iterable[str] = (), track: bool
    ) -> None:
        pipe = self._client().pipeline(transaction=False)
        key = self._key(user_id)
        if fields:
            pipe.hset(key, mapping=fields)
        drop = list(drop)
        if drop:
            pipe.hdel(key, *drop)
        pipe.expire(key, KEEP_SECONDS)
        if track:
            pipe.sadd(self.backend.make_key(TRACKED_KEY), user_id)
        pipe.execute()

    def read_many(self, user_ids: list[int]) -> dict[int, dict[str, str]]:
        if not user_ids:
            return {}
        pipe = self._client().pipeline(transaction=False)
        for user_id in user_ids:
            pipe.hgetall(self._key(user_id))
        rows = pipe.execute()
        return {
            uid: {k.decode(): v.decode() for k, v in row.items()}
            for uid, row in zip(user_ids, rows, strict=True)
        }

    def claim_interval(self, user_id: int, now: float, interval: float) -> float | None:
        """Take the user's frame interval (None: send now) or say when the running one ends.
        SET NX PX: atomic, to the millisecond, whichever process asks."""
        key = self.backend.make_key(f"presence:window:{user_id}")
        client = self._client()
        if client.set(key, f"{now:.3f}", nx=True, px=max(1, int(interval * 1000))):
            return None
        sent = client.get(key)
        return float(sent) + interval if sent is not None else now

    def tracked(self) -> list[int]:
        members = self._client().smembers(self.backend.make_key(TRACKED_KEY))
        return sorted(int(m) for m in members)

    def untrack(self, user_id: int) -> None:
        self._client().srem(self.backend.make_key(TRACKED_KEY), user_id)


class LocalStore:
    """The same record as a dict in the (local-memory) Django cache, changed under a lock:
    embedded mode is one process."""

    lock = threading.Lock()

    def __init__(self, backend) -> None:
        self.backend = backend

    def write(
        self, user_id: int, fields: dict[str, str], *, drop: Iterable[str] = (), track: bool
    ) -> None:
        with self.lock:
            record = self.backend.get(user_key(user_id)) or {}
            record.update(fields)
            for field in drop:
                record.pop(field, None)
            self.backend.set(user_key(user_id), record, timeout=KEEP_SECONDS)
            if track:
                tracked = self.backend.get(TRACKED_KEY) or set()
                self.backend.set(TRACKED_KEY, tracked | {user_id}, timeout=None)

    def read_many(self, user_ids: list[int]) -> dict[int, dict[str, str]]:
        found = self.backend.get_many([user_key(uid) for uid in user_ids])
        return {uid: found.get(user_key(uid)) or {} for uid in user_ids}

    def claim_interval(self, user_id: int, now: float, interval: float) -> float | None:
        key = f"presence:window:{user_id}"
        with self.lock:
            if self.backend.add(key, now, timeout=interval):  # local memory: float timeouts
                return None
            sent = self.backend.get(key)
        return float(sent) + interval if sent is not None else now

    def tracked(self) -> list[int]:
        return sorted(self.backend.get(TRACKED_KEY) or set())

    def untrack(self, user_id: int) -> None:
        with self.lock:
            tracked = self.backend.get(TRACKED_KEY) or set()
            self.backend.set(TRACKED_KEY, tracked - {user_id}, timeout=None)


def store() -> RedisStore | LocalStore:
    """The store for the configured default cache (tests switch it with settings.CACHES)."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return RedisStore(backend)
    return LocalStore(backend)


def connection_field(connection_id: str) -> str:
    return f"{CONN}{connection_id}"


def encode_connection(*, visible: bool, idle: bool, at: float, expires: float) -> str:
    return json.dumps({"v": visible, "i": idle, "at": round(at, 3), "exp": round(expires, 3)})

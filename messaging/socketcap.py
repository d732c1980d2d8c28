"""A cap on open WebSockets per user (WS_MAX_SOCKETS_PER_USER), across every daphne process.

`SocketCap` is ASGI middleware inside the session middleware: before a logged-in user's
handshake reaches the router it claims a *slot*; past the cap the handshake is refused (HTTP
403, like any refused socket; the page's client backs off and retries). The slot is released
when the socket's application returns, whatever the reason.

Slots live where the cache lives. With the Redis cache (REDIS_URL: several processes) they are
members of a sorted set per user, scored by when they expire; a Lua script prunes the expired
ones, counts and claims in one step, so two processes cannot both take the last slot. Each
open socket re-stamps its slot every SLOT_TTL / 3 seconds, so the slots of a process that
crashed (never released) expire within SLOT_TTL. Embedded, slots are counted in this process.
If Redis cannot be reached the socket is let through: the cap never blocks a working server.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from dataclasses import dataclass

from channels.security.websocket import WebsocketDenier
from django.conf import settings

logger = logging.getLogger(__name__)

SLOT_TTL = 60.0  # seconds a slot outlives its last refresh (a crashed process's sockets)
REDIS_CACHE_BACKEND = "django.core.cache.backends.redis.RedisCache"

_CLAIM = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


@dataclass(frozen=True)
class Slot:
    user_id: int
    token: str


def slot_key(user_id: int) -> str:
    return f"wscap:user:{user_id}"


def _redis_location() -> str | None:
    cache = settings.CACHES.get("default", {})
    if cache.get("BACKEND") != REDIS_CACHE_BACKEND:
        return None
    location = cache.get("LOCATION")
    return location[0] if isinstance(location, list | tuple) else location


# --- in this process ----------------------------------------------------------------------

_local: dict[int, dict[str, float]] = {}  # user id -> {token: expires at}


def _claim_local(user_id: int, token: str, cap: int, now: float) -> bool:
    slots = {t: exp for t, exp in _local.get(user_id, {}).items() if exp > now}
    if len(slots) >= cap:
        _local[user_id] = slots
        return False
    slots[token] = now + SLOT_TTL
    _local[user_id] = slots
    return True


# --- in Redis -----------------------------------------------------------------------------

_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> client


def _redis(location: str):
    """One asyncio Redis client per event loop (clients are bound to the loop they run on)."""
    import redis.asyncio

    from messaging import layers

    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        options = settings.REDIS_SOCKET_OPTIONS
        client = redis.asyncio.Redis(
            connection_pool=layers.blocking_pool(
                address=location,
                socket_connect_timeout=options["socket_connect_timeout"],
                socket_timeout=options["socket_timeout"],
            )
        )
        _clients[loop] = client
    return client


# --- the interface ------------------------------------------------------------------------


async def claim(user_id: int, *, now: float | None = None) -> Slot | None:
    """A slot for one more socket of the user, or None when they are at the cap."""
    cap = settings.WS_MAX_SOCKETS_PER_USER
    now = time.time() if now is None else now
    slot = Slot(user_id, uuid.uuid4().hex)
    location = _redis_location()
    if location is None:
        return slot if _claim_local(user_id, slot.token, cap, now) else None
    try:
        ok = await _redis(location).eval(
            _CLAIM, 1, slot_key(user_id), now, cap, now + SLOT_TTL, slot.token, int(SLOT_TTL) + 1
        )
    except Exception as exc:
        logger.warning("socket cap: Redis unavailable (%r); not counting this socket", exc)
        return slot
    return slot if ok else None


async def refresh(slot: Slot) -> None:
    """Re-stamp the slot's expiry (every SLOT_TTL / 3 while its socket is open)."""
    expires = time.time() + SLOT_TTL
    location = _redis_location()
    if location is None:
        _local.setdefault(slot.user_id, {})[slot.token] = expires
        return
    key = slot_key(slot.user_id)
    try:
        await _redis(location).zadd(key, {slot.token: expires})
        await _redis(location).expire(key, int(SLOT_TTL) + 1)
    except Exception as exc:
        logger.warning("socket cap: refreshing a slot failed (%r)", exc)


async def release(slot: Slot) -> None:
    location = _redis_location()
    if location is None:
        slots = _local.get(slot.user_id, {})
        slots.pop(slot.token, None)
        if not slots:
            _local.pop(slot.user_id, None)
        return
    try:
        await _redis(location).zrem(slot_key(slot.user_id), slot.token)
    except Exception as exc:  # it expires by itself
        logger.warning("socket cap: releasing a slot failed (%r)", exc)


async def _keep_fresh(slot: Slot) -> None:
    while True:
        await asyncio.sleep(SLOT_TTL / 3)
        await refresh(slot)


class SocketCap:
    """ASGI middleware (inside AuthMiddlewareStack): at most WS_MAX_SOCKETS_PER_USER open
    sockets per logged-in user; the handshake past it is refused."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if scope["type"] != "websocket" or user is None or not user.is_authenticated:
            return await self.application(scope, receive, send)
        slot = await claim(user.pk)
        if slot is None:
            logger.info(
                "socket cap: user %s is at %s sockets", user.pk, settings.WS_MAX_SOCKETS_PER_USER
            )
            return await WebsocketDenier()(scope, receive, send)
        keeper = asyncio.create_task(_keep_fresh(slot))
        try:
            return await self.application(scope, receive, send)
        finally:
            keeper.cancel()
            await release(slot)

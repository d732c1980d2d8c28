"""Join/leave (presence) frames, coalesced per user and room.

(These say "a socket of this user opened or closed in this room". Whether someone is online,
away or offline (issue 11) is `messaging.services.presence` and `messaging.presence_live`.)

Every room socket that opens or closes changes its user's presence; a client that opens and
closes a socket in a loop would otherwise push two frames per cycle to every member (the
outside test: 100 cycles in 3.4 s, 200 frames). So per user and room at most
PRESENCE_RATE_LIMIT frames ("<count>/<seconds>s") go out in each fixed window of that
period; a change past that only records the latest state, and one trailing frame at the end of
the window announces it if it differs from the last one sent. The final state members see is
always the latest one; an ordinary join and leave go out at once.

The bookkeeping is in the Django cache (shared by every process with Redis): `latest` and
`sent` state, a frame counter per window, and a "flush scheduled" flag per window so only one
process sends the trailing frame. If that process dies first, the next change of that user in
that room brings the state up to date. If the cache is down, frames go out unthrottled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache

from messaging import layers, realtime
from messaging.ratelimit import Rate

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

JOINED, LEFT = "join", "leave"
# Trailing flushes waiting to run (a reference keeps the task alive).
_flushes: set[asyncio.Task] = set()


def _rate() -> Rate:
    return Rate.parse(settings.PRESENCE_RATE_LIMIT)


def _incr(key: str, ttl: int) -> int:
    try:
        return cache.incr(key)
    except ValueError:  # no such key yet (or it just expired)
        if cache.add(key, 1, timeout=ttl):
            return 1
        return cache.incr(key)


def _claim_frame(prefix: str, state: str, now: float) -> tuple[bool, float | None]:
    """Count a frame for `state` in the current window: (send it now?, flush at). When over
    the limit, the first process to get there schedules the trailing flush (at the end of
    the window)."""
    rate = _rate()
    ttl = int(rate.seconds * 3) + 60
    window = int(now // rate.seconds)
    if _incr(f"{prefix}n:{window}", ttl) <= rate.count:
        cache.set(f"{prefix}sent", state, timeout=ttl)
        return True, None
    if cache.add(f"{prefix}flush:{window}", 1, timeout=ttl):
        return False, (window + 1) * rate.seconds
    return False, None


def _record(prefix: str, state: str, now: float) -> tuple[bool, float | None]:
    cache.set(f"{prefix}latest", state, timeout=int(_rate().seconds * 3) + 60)
    return _claim_frame(prefix, state, now)


def _pending(prefix: str, now: float) -> tuple[str | None, float | None]:
    """At a flush: the state to send now (if the latest differs from the last one sent), and
    when to flush again if this window is full too."""
    latest, sent = cache.get(f"{prefix}latest"), cache.get(f"{prefix}sent")
    if latest is None or latest == sent:
        return None, None
    send_now, flush_at = _claim_frame(prefix, latest, now)
    return (latest if send_now else None), flush_at


async def announce(channel_layer, *, room_id: int, user: User, joined: bool) -> None:
    """The user's socket in the room opened (`joined`) or closed: tell the other members,
    at once or coalesced into a trailing frame."""
    prefix = f"presence:{room_id}:{user.pk}:"
    state = JOINED if joined else LEFT
    try:
        send_now, flush_at = await sync_to_async(_record, thread_sensitive=False)(
            prefix, state, time.time()
        )
    except Exception as exc:
        logger.warning("presence: cache unavailable (%r); sending unthrottled", exc)
        send_now, flush_at = True, None
    if send_now:
        await _send(channel_layer, room_id, user, state)
    if flush_at is not None:
        _schedule(channel_layer, room_id, user, prefix, flush_at)


def _schedule(channel_layer, room_id: int, user: User, prefix: str, at: float) -> None:
    task = asyncio.create_task(_flush(channel_layer, room_id, user, prefix, at))
    _flushes.add(task)
    task.add_done_callback(_flushes.discard)


async def _flush(channel_layer, room_id: int, user: User, prefix: str, at: float) -> None:
    await asyncio.sleep(max(0.0, at - time.time()) + 0.01)
    try:
        state, flush_at = await sync_to_async(_pending, thread_sensitive=False)(prefix, time.time())
    except Exception as exc:
        logger.warning("presence: cache unavailable at a flush (%r)", exc)
        return
    if state is not None:
        await _send(channel_layer, room_id, user, state)
    if flush_at is not None:
        _schedule(channel_layer, room_id, user, prefix, flush_at)


async def _send(channel_layer, room_id: int, user: User, state: str) -> None:
    payload = realtime.presence_payload(user, joined=state == JOINED)
    event = realtime.forward_event(payload, exclude_user_id=user.pk)
    try:
        await channel_layer.group_send(realtime.room_group(room_id), event)
    except Exception:  # presence is best effort
        logger.warning("presence broadcast to room %s failed", room_id, exc_info=True)
        layers.note_layer_failure()

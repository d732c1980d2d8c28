"""Presence (issue 11) on the sockets: each socket's connection, the frames, the sweep.

`Connection` belongs to one socket once its page sent a `heartbeat` frame
(`{"type": "heartbeat", "visible": bool, "idle": bool}`, every ~25 s and whenever the page is
hidden, shown, goes idle or comes back). It records the report through the service, keeps the
connection alive while the socket is open and drops it when the socket closes. The
announcements the service returns are sent here: a frame to the user's rooms and boards now,
or a trailing check later (an asyncio task of this process).

The sweep runs in every process that has had a presence connection (an asyncio task per event
loop), one process per round (a cache key): it is how a killed process's users go offline.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.models import User
from messaging import layers, realtime
from messaging.dbcalls import db_call
from messaging.services import presence as service

logger = logging.getLogger(__name__)

HEARTBEAT = "heartbeat"
# A page repeating an unchanged report more often than this is not written again.
REWRITE_SECONDS = 5.0
# Writes of one socket's reports are at least this far apart.
WRITE_GAP_SECONDS = 0.5

_tasks: set[asyncio.Task] = set()  # trailing checks and keepers (a reference keeps them alive)
_sweepers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> task


def parse_heartbeat(data: dict[str, Any]) -> tuple[bool, bool]:
    """(visible, idle) from a heartbeat frame, or ValidationError saying what is wrong."""
    visible = data.get("visible")
    idle = data.get("idle", False)
    if not isinstance(visible, bool):
        raise ValidationError('"visible" must be true or false.')
    if not isinstance(idle, bool):
        raise ValidationError('"idle" must be true or false.')
    return visible, idle


class Connection:
    """The presence connection of one socket.

    Writes are spaced at least WRITE_GAP_SECONDS apart per socket: a page (or a script)
    that flips its state many times a second costs two writes a second, and the state held
    back in between is written at the end of the gap (the latest one wins)."""

    def __init__(self, channel_layer, user: User) -> None:
        self.channel_layer = channel_layer
        self.user = user
        self.id = uuid.uuid4().hex
        self.state: tuple[bool, bool] = (False, False)  # the latest report
        self.written: tuple[bool, bool] | None = None
        self.reported_at = 0.0  # epoch seconds of the last write
        self.written_mono = -WRITE_GAP_SECONDS
        self.held: asyncio.Task | None = None
        self.keeper: asyncio.Task | None = None
        self.closed = False

    async def heartbeat(self, *, visible: bool, idle: bool) -> None:
        self.state = (visible, idle)
        if self.held is not None:
            return
        if self.written == self.state and time.time() - self.reported_at < REWRITE_SECONDS:
            return
        wait = self.written_mono + WRITE_GAP_SECONDS - time.monotonic()
        if wait > 0:
            self.held = _spawn(self._write_after(wait))
            return
        await self._write()

    async def _write_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self.held = None
        if not self.closed:
            await self._write()

    async def _write(self) -> None:
        now = time.time()
        self.written, self.reported_at, self.written_mono = self.state, now, time.monotonic()
        visible, idle = self.state
        announcement = await db_call(service.record_heartbeat)(
            user=self.user, connection_id=self.id, visible=visible, idle=idle, now=now
        )
        await deliver(self.channel_layer, self.user.pk, announcement)
        if self.keeper is None and not self.closed:
            self.keeper = _spawn(self._keep())
            ensure_sweeper(self.channel_layer)

    async def _keep(self) -> None:
        while not self.closed:
            await asyncio.sleep(settings.PRESENCE_CONNECTION_TTL_SECONDS / 3)
            visible, idle = self.written or self.state
            try:
                await db_call(service.keep_connection)(
                    user_id=self.user.pk,
                    connection_id=self.id,
                    visible=visible,
                    idle=idle,
                    at=self.reported_at,
                )
            except Exception as exc:  # the next round tries again; expiry is the fallback
                logger.warning("presence: keeping connection alive failed (%r)", exc)

    async def close(self) -> None:
        self.closed = True
        for task in (self.keeper, self.held):
            if task is not None:
                task.cancel()
        try:
            announcement = await db_call(service.drop_connection)(
                user_id=self.user.pk, connection_id=self.id
            )
        except Exception as exc:  # the connection expires by itself; the sweep announces it
            logger.warning("presence: dropping a connection failed (%r)", exc)
            return
        await deliver(self.channel_layer, self.user.pk, announcement)


async def deliver(channel_layer, user_id: int, announcement: service.Announcement) -> None:
    """Send the frame, schedule the trailing check."""
    if announcement.payload is not None:
        event = realtime.forward_event(announcement.payload, event_type=realtime.PRESENCE_STATUS)
        results = await asyncio.gather(
            *(layers.group_send_retrying(channel_layer, g, event) for g in announcement.groups),
            return_exceptions=True,
        )
        if any(isinstance(r, BaseException) for r in results):
            logger.warning("presence frame for user %s failed in part", user_id)
            layers.note_layer_failure()
    if announcement.retry_at is not None:
        _spawn(_trailing(channel_layer, user_id, announcement.retry_at))


async def _trailing(channel_layer, user_id: int, at: float) -> None:
    await asyncio.sleep(max(0.0, at - time.time()) + 0.05)
    try:
        announcement = await db_call(service.trailing_check)(user_id)
    except Exception as exc:  # the sweep catches up
        logger.warning("presence: trailing check failed (%r)", exc)
        return
    await deliver(channel_layer, user_id, announcement)


def ensure_sweeper(channel_layer) -> None:
    loop = asyncio.get_running_loop()
    task = _sweepers.get(loop)
    if task is None or task.done():
        _sweepers[loop] = _spawn(_sweep_forever(channel_layer))


async def _sweep_forever(channel_layer) -> None:
    while True:
        await asyncio.sleep(settings.PRESENCE_SWEEP_SECONDS)
        try:
            await sweep_once(channel_layer)
        except Exception as exc:
            logger.warning("presence sweep failed (%r)", exc)


async def sweep_once(channel_layer, *, claim: bool = True) -> None:
    """One round of the sweep (skipped when another process has this round)."""
    if claim and not await db_call(service.claim_sweep)():
        return
    for user_id, announcement in await db_call(service.sweep)():
        await deliver(channel_layer, user_id, announcement)


def _spawn(coro) -> asyncio.Task:
    task = asyncio.create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task

"""`ws/notifications/`: one socket per tab that keeps the nav badge and toasts live.

It only listens: services push prepared `notification`, `unread_count` and `room_unread`
frames to the user's group (messaging.realtime.user_group), and this consumer forwards them
unchanged. A `room.activity` event (a message arrived in, or left, one of the user's rooms:
issue 11) is the one it answers itself, with the user's `room_unread` frame for that room."""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from django.conf import settings

from accounts.models import User
from messaging import realtime
from messaging.consumers.base import MessagingConsumer
from messaging.dbcalls import db_call
from messaging.selectors.notifications import unread_count
from messaging.selectors.unread import room_unread

logger = logging.getLogger(__name__)


class NotificationConsumer(MessagingConsumer):
    """Joins only the user's own group (the base class adds it). On connect it sends the
    current unread count, so a reconnecting tab is right at once; a deactivated user's socket
    is closed when an access change is signalled."""

    access_gone_message = "Your session has ended."

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.recounts: dict[int, asyncio.Task] = {}  # room id -> its running recount
        self.recount_again: set[int] = set()  # rooms with activity since their recount began

    async def authorize(self) -> bool:
        return self.user.is_active

    def subscriptions(self) -> list[str]:
        return [realtime.unread_group(self.user.pk)]  # ROOM_ACTIVITY (issue 11)

    def allowed_now(self) -> bool:
        return User.objects.filter(pk=self.user.pk, is_active=True).exists()

    async def joined(self) -> None:
        count = await database_sync_to_async(unread_count)(self.user.pk)
        await self.send_json(realtime.unread_count_payload(count))

    async def user_push(self, event: dict) -> None:
        """Notification and unread-count frames: forward them unchanged."""
        await self.forward(event)

    async def room_activity(self, event: dict) -> None:
        """Recount the room for this socket's user and send `room_unread`, off the socket's
        event queue (a burst of messages must not hold up the notification frames behind it)
        and coalesced: while a room's recount runs, more activity in it makes one more
        recount, UNREAD_RECOUNT_SECONDS later, with the latest counts. So a busy room costs
        each open notifications socket at most about one query per that interval, and the
        last frame always carries the counts after the last message."""
        if self.access_revoked or self.closing:
            return
        room_id = int(event["room_id"])
        if room_id in self.recounts:
            self.recount_again.add(room_id)
            return
        self.recounts[room_id] = asyncio.create_task(self.recount(room_id))

    async def recount(self, room_id: int) -> None:
        try:
            while not (self.access_revoked or self.closing):
                self.recount_again.discard(room_id)
                item = await db_call(room_unread)(self.user, room_id)
                if item is not None and not (self.access_revoked or self.closing):
                    await self.send_json(realtime.room_unread_payload(item))
                if room_id not in self.recount_again:
                    return
                await asyncio.sleep(settings.UNREAD_RECOUNT_SECONDS)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("recounting room %s failed", room_id, exc_info=True)
        finally:
            self.recounts.pop(room_id, None)

    async def websocket_disconnect(self, message: dict) -> None:
        for task in list(self.recounts.values()):
            task.cancel()
        await super().websocket_disconnect(message)

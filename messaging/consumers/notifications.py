"""`ws/notifications/`: one socket per tab that keeps the nav badge and toasts live.

It only listens: services push prepared `notification`, `unread_count` and `room_unread`
frames to the user's group (messaging.realtime.user_group), and this consumer forwards them
unchanged. A `room.activity` event (a message arrived in, or left, one of the user's rooms:
issue 11) is the one it answers itself, with the user's `room_unread` frame for that room."""

from __future__ import annotations

from channels.db import database_sync_to_async

from accounts.models import User
from messaging import realtime
from messaging.consumers.base import MessagingConsumer
from messaging.selectors.notifications import unread_count
from messaging.selectors.unread import room_unread


class NotificationConsumer(MessagingConsumer):
    """Joins only the user's own group (the base class adds it). On connect it sends the
    current unread count, so a reconnecting tab is right at once; a deactivated user's socket
    is closed when an access change is signalled."""

    access_gone_message = "Your session has ended."

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
        """Count the room for this socket's user (one query) and send `room_unread`. A room
        the user can no longer read yields nothing."""
        if self.access_revoked or self.closing:
            return
        item = await database_sync_to_async(room_unread)(self.user, int(event["room_id"]))
        if item is not None:
            await self.send_json(realtime.room_unread_payload(item))

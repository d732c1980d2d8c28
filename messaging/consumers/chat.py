"""ws/chat-room/<room_id>/: live chat for the members of one room."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404

from accounts.models import User
from messaging import access, presence, realtime
from messaging.dbcalls import db_call
from messaging.models import ChatMessage, ChatRoom
from messaging.selectors.rooms import get_room_for
from messaging.services.editing import delete_chat_message, edit_chat_message
from messaging.services.posting import post_chat_message
from messaging.services.reactions import toggle_reaction
from messaging.services.typing import clear_typing, record_typing

from .base import MessagingConsumer, optional_client_id, require_id, require_text


class ChatRoomConsumer(MessagingConsumer):
    """Client frames: {"type": "chat_message", "message", "client_id"?, "parent_id"?},
    {"type": "typing"},
    {"type": "stop_typing"}. Server frames: the payloads built in `messaging.realtime`, an
    `ack` for a message sent with a client_id, and `error`."""

    handlers: ClassVar[dict[str, str]] = {
        "chat_message": "handle_chat_message",
        "typing": "handle_typing",
        "stop_typing": "handle_stop_typing",
        # Issue 10: {"type": "edit_message", "message_id", "message"},
        # {"type": "delete_message", "message_id"}, {"type": "react", "message_id", "emoji"}.
        "edit_message": "handle_edit_message",
        "delete_message": "handle_delete_message",
        "react": "handle_react",
    }
    access_gone_message = "You are no longer a member of this room."

    room: ChatRoom
    # Whether this socket recorded a typing row that its next message should clear: a message
    # from a socket that never typed costs no typing query.
    typing_recorded = False

    async def authorize(self) -> bool:
        room_id = self.scope["url_route"]["kwargs"]["room_id"]
        try:
            self.room = await db_call(get_room_for)(self.user, room_id)
        except Http404:
            return False
        return True

    def allowed_now(self) -> bool:
        return access.can_read_room_id(user_id=self.user.pk, room_id=self.room.pk)

    def subscriptions(self) -> list[str]:
        return [realtime.room_group(self.room.pk)]

    def presence_people(self) -> QuerySet[User]:
        return access.room_readers(self.room.pk)

    async def joined(self) -> None:
        # Coalesced per user and room (a join/leave flood sends a few frames, not hundreds).
        await presence.announce(
            self.channel_layer, room_id=self.room.pk, user=self.user, joined=True
        )

    async def left(self) -> None:
        await presence.announce(
            self.channel_layer, room_id=self.room.pk, user=self.user, joined=False
        )

    async def handle_chat_message(self, data: dict[str, Any]) -> None:
        # With files (issue 12) the text may be left out.
        content = data.get("message", "") if data.get("attachment_ids") else None
        content = require_text(data, "message") if content is None else content
        client_id = optional_client_id(data)
        # The service broadcasts to the whole room (this socket included) after commit.
        message = await db_call(post_chat_message)(
            room=self.room,
            author=self.user,
            content=content,
            client_id=client_id,
            parent_id=data.get("parent_id"),
            clear_typing=self.typing_recorded,
            attachment_ids=data.get("attachment_ids"),
        )
        self.typing_recorded = False
        if client_id:
            await self.send_ack({"type": "ack", "client_id": client_id, "message_id": message.pk})

    def _message(self, data: dict[str, Any]) -> ChatMessage:
        """The frame's message, in this room (anything else is "no such message")."""
        message_id = require_id(data, "message_id")
        message = ChatMessage.objects.filter(pk=message_id, chat_room=self.room).first()
        if message is None:
            raise ValidationError("No such message in this room.", code="not_found")
        message.chat_room = self.room
        return message

    async def handle_edit_message(self, data: dict[str, Any]) -> None:
        content = require_text(data, "message")

        def edit() -> None:
            edit_chat_message(message=self._message(data), editor=self.user, content=content)

        await db_call(edit)()  # the room hears message_edited

    async def handle_delete_message(self, data: dict[str, Any]) -> None:
        def delete() -> None:
            delete_chat_message(message=self._message(data), deleted_by=self.user)

        await db_call(delete)()  # the room hears message_deleted

    async def handle_react(self, data: dict[str, Any]) -> None:
        emoji = data.get("emoji")

        def react() -> None:
            toggle_reaction(post=self._message(data), user=self.user, emoji=emoji)

        await db_call(react)()  # the room hears reactions

    async def handle_typing(self, data: dict[str, Any]) -> None:
        await db_call(record_typing)(room=self.room, user=self.user)
        self.typing_recorded = True

    async def handle_stop_typing(self, data: dict[str, Any]) -> None:
        await db_call(clear_typing)(room=self.room, user=self.user)
        self.typing_recorded = False

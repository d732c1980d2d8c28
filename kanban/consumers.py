"""ws/board/<board_id>/: the live board for its members (board and task pages alike).

Server frames: the board frames built by the kanban services (kanban.realtime, each with a
`version`), `viewer_join`/`viewer_leave` for "who's here", `presence` (issue 11), `error`. The
socket takes no client frames of its own besides the page's `heartbeat` (every socket takes
it: messaging.consumers.base): changes go through the HTTP endpoints, whose services broadcast
them here.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from channels.db import database_sync_to_async
from django.db.models import QuerySet
from django.http import Http404

from accounts.models import User
from messaging import layers
from messaging.consumers.base import MessagingConsumer

from . import access
from . import realtime as board_realtime
from .models import Board
from .selectors import get_board_for


class BoardConsumer(MessagingConsumer):
    handlers: ClassVar[dict[str, str]] = {}
    access_gone_message = "You are no longer a member of this board."

    board: Board
    viewer_id: str

    async def authorize(self) -> bool:
        board_id = self.scope["url_route"]["kwargs"]["board_id"]
        try:
            self.board = await database_sync_to_async(get_board_for)(self.user, board_id)
        except Http404:
            return False
        self.viewer_id = uuid.uuid4().hex
        return True

    def allowed_now(self) -> bool:
        return access.can_read_board(self.user, self.board.pk)

    def subscriptions(self) -> list[str]:
        return [board_realtime.board_group(self.board.pk)]

    def presence_people(self) -> QuerySet[User]:
        return access.board_readers(self.board.pk)

    # --- who's here: each socket announces itself; the others answer it directly ----------

    def viewer(self, *, joined: bool) -> dict[str, Any]:
        return board_realtime.viewer_payload(self.user, self.viewer_id, joined=joined)

    async def joined(self) -> None:
        await self._layer_call(
            self.channel_layer.group_send,
            board_realtime.board_group(self.board.pk),
            {
                "type": board_realtime.BOARD_HELLO,
                "viewer": self.viewer(joined=True),
                "reply_to": self.channel_name,
            },
        )

    async def left(self) -> None:
        await self.group_forward(
            board_realtime.board_group(self.board.pk),
            self.viewer(joined=False),
            exclude_self=False,
        )

    async def board_hello(self, event: dict[str, Any]) -> None:
        if self.access_revoked or self.closing or event["viewer"]["viewer_id"] == self.viewer_id:
            return
        await self.send_json(event["viewer"])
        await self._layer_call(
            self.channel_layer.send,
            event["reply_to"],
            {"type": board_realtime.BOARD_HERE, "viewer": self.viewer(joined=True)},
        )

    async def board_here(self, event: dict[str, Any]) -> None:
        if not (self.access_revoked or self.closing):
            await self.send_json(event["viewer"])

    async def _layer_call(self, call, *args: Any) -> None:
        try:
            await call(*args)
        except Exception:  # presence is best effort; a failed call closes for resync
            layers.note_layer_failure()

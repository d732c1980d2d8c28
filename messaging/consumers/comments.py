"""ws/task-comments/<task_id>/: the live comment thread of one task, for its board's members."""

from __future__ import annotations

from typing import Any, ClassVar

from channels.db import database_sync_to_async
from django.http import Http404

from kanban.models import Task
from kanban.selectors import get_task_for
from messaging import access, realtime
from messaging.services.posting import post_task_comment

from .base import MessagingConsumer, optional_client_id, require_text


class TaskCommentConsumer(MessagingConsumer):
    """Client frame: {"type": "comment", "comment", "client_id"?}. Server frames: `new_comment`
    payloads from `messaging.realtime`, an `ack` for a comment sent with a client_id, `error`."""

    handlers: ClassVar[dict[str, str]] = {"comment": "handle_comment"}
    access_gone_message = "You are no longer a member of this board."

    task: Task

    async def authorize(self) -> bool:
        task_id = self.scope["url_route"]["kwargs"]["task_id"]
        try:
            self.task = await database_sync_to_async(get_task_for)(self.user, task_id)
        except Http404:
            return False
        return True

    def allowed_now(self) -> bool:
        return access.can_read_task_thread_id(user_id=self.user.pk, task_id=self.task.pk)

    def subscriptions(self) -> list[str]:
        return [realtime.task_group(self.task.pk)]

    async def handle_comment(self, data: dict[str, Any]) -> None:
        content = require_text(data, "comment")
        client_id = optional_client_id(data)
        comment = await database_sync_to_async(post_task_comment)(
            task=self.task, author=self.user, content=content, client_id=client_id
        )
        if client_id:
            # `comment_id` names the row; `message_id` too, so one client ack handler serves
            # both sockets.
            await self.send_json(
                {
                    "type": "ack",
                    "client_id": client_id,
                    "comment_id": comment.pk,
                    "message_id": comment.pk,
                }
            )

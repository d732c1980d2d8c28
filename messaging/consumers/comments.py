"""ws/task-comments/<task_id>/: the live comment thread of one task, for its board's members."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.http import Http404

from kanban.models import Task
from kanban.selectors import get_task_for
from messaging import access, realtime
from messaging.dbcalls import db_call
from messaging.models import TaskThreadComment
from messaging.services.editing import delete_task_comment, edit_task_comment
from messaging.services.posting import post_task_comment
from messaging.services.reactions import toggle_reaction

from .base import MessagingConsumer, optional_client_id, require_id, require_text


class TaskCommentConsumer(MessagingConsumer):
    """Client frame: {"type": "comment", "comment", "client_id"?}. Server frames: `new_comment`
    payloads from `messaging.realtime`, an `ack` for a comment sent with a client_id, `error`."""

    handlers: ClassVar[dict[str, str]] = {
        "comment": "handle_comment",
        # Issue 10: {"type": "edit_comment", "comment_id", "comment"},
        # {"type": "delete_comment", "comment_id"}, {"type": "react", "comment_id", "emoji"}.
        "edit_comment": "handle_edit_comment",
        "delete_comment": "handle_delete_comment",
        "react": "handle_react",
    }
    access_gone_message = "You are no longer a member of this board."

    task: Task

    async def authorize(self) -> bool:
        task_id = self.scope["url_route"]["kwargs"]["task_id"]
        try:
            self.task = await db_call(get_task_for)(self.user, task_id)
        except Http404:
            return False
        return True

    def allowed_now(self) -> bool:
        return access.can_read_task_thread_id(user_id=self.user.pk, task_id=self.task.pk)

    def subscriptions(self) -> list[str]:
        return [realtime.task_group(self.task.pk)]

    async def handle_comment(self, data: dict[str, Any]) -> None:
        # With files (issue 12) the text may be left out.
        content = data.get("comment", "") if data.get("attachment_ids") else None
        content = require_text(data, "comment") if content is None else content
        client_id = optional_client_id(data)
        comment = await db_call(post_task_comment)(
            task=self.task,
            author=self.user,
            content=content,
            client_id=client_id,
            attachment_ids=data.get("attachment_ids"),
        )
        if client_id:  # realtime.ack_for: the same frame, if the broadcast came first
            await self.send_ack(
                {
                    "type": "ack",
                    "client_id": client_id,
                    "comment_id": comment.pk,
                    "message_id": comment.pk,
                }
            )

    def _comment(self, data: dict[str, Any]) -> TaskThreadComment:
        """The frame's comment, on this task (anything else is "no such comment")."""
        comment_id = require_id(data, "comment_id")
        comment = TaskThreadComment.objects.filter(pk=comment_id, task=self.task).first()
        if comment is None:
            raise ValidationError("No such comment on this task.", code="not_found")
        comment.task = self.task
        return comment

    async def handle_edit_comment(self, data: dict[str, Any]) -> None:
        content = require_text(data, "comment")

        def edit() -> None:
            edit_task_comment(comment=self._comment(data), editor=self.user, content=content)

        await db_call(edit)()  # the thread hears comment_edited

    async def handle_delete_comment(self, data: dict[str, Any]) -> None:
        def delete() -> None:
            delete_task_comment(comment=self._comment(data), deleted_by=self.user)

        await db_call(delete)()  # the thread hears comment_deleted

    async def handle_react(self, data: dict[str, Any]) -> None:
        emoji = data.get("emoji")

        def react() -> None:
            toggle_reaction(post=self._comment(data), user=self.user, emoji=emoji)

        await db_call(react)()  # the thread hears reactions

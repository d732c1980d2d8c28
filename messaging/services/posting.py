"""Posting chat messages and task comments: the one write path for HTTP and WebSocket.

Each service validates, saves in a transaction, stores the mentions that resolve to people who
can read the text, and schedules (after commit) the broadcast of a payload built once plus the
mention notifications. A retried send with the same `client_id` returns the first row.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from kanban import services as kanban_services
from kanban.models import Task
from messaging import access, realtime
from messaging.mentions import extract_mentions
from messaging.models import ChatMessage, ChatRoom, TaskThreadComment, UserTypingStatus
from messaging.selectors.rooms import resolve_room_mentions
from messaging.selectors.threads import resolve_task_mentions
from messaging.services.notifications import schedule_mention_notifications

CLIENT_ID_MAX_LENGTH = 64
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

Post = TypeVar("Post", ChatMessage, TaskThreadComment)


def clean_content(content: str) -> str:
    """Stripped text, or ValidationError if it is empty or longer than MESSAGE_MAX_LENGTH."""
    if not isinstance(content, str):
        raise ValidationError("Message text must be a string.", code="invalid")
    content = content.strip()
    if not content:
        raise ValidationError("Write something first: the message is empty.", code="empty")
    limit = settings.MESSAGE_MAX_LENGTH
    if len(content) > limit:
        raise ValidationError(
            f"Messages are limited to {limit} characters (this one has {len(content)}).",
            code="too_long",
        )
    # A socket frame's JSON can carry both ("\u0000", "\ud800"); HTTP forms already refuse
    # NUL. PostgreSQL cannot store NUL, and no UTF-8 database a lone surrogate.
    if _UNSTORABLE.search(content):
        raise ValidationError(
            "The message contains characters that cannot be stored (NUL or a lone surrogate).",
            code="invalid_characters",
        )
    return content


def clean_client_id(client_id: str) -> str:
    if not isinstance(client_id, str):
        raise ValidationError("client_id must be a string.", code="invalid")
    client_id = client_id.strip()
    if len(client_id) > CLIENT_ID_MAX_LENGTH:
        raise ValidationError(
            f"client_id is limited to {CLIENT_ID_MAX_LENGTH} characters.", code="too_long"
        )
    return client_id


def _save_once(
    model: type[Post],
    *,
    thread: ChatRoom | Task,
    scope: dict[str, Any],
    client_id: str,
    **fields: Any,
) -> tuple[Post, bool]:
    """Create a post, or return the one already saved under (scope, client_id).

    `scope` is the thread and the author. A concurrent retry that wins the race between the
    lookup and the insert trips the unique constraint; its row is returned instead.

    Posts to one thread are serialized until commit (a row lock on the room or task), so they
    become visible in id order. Clients back-fill with `history/?after=<last id>`: if two
    concurrent posts committed out of id order, a back-fill between the two commits would
    return the later id and skip the earlier one for good (the fault tier caught a client
    missing exactly such a message)."""
    if client_id:
        existing = model.objects.filter(**scope, client_id=client_id).first()
        if existing is not None:
            return existing, False
    # FOR NO KEY UPDATE: excludes other posters, not foreign-key checks on the thread.
    list(type(thread).objects.select_for_update(no_key=True).filter(pk=thread.pk).values("pk"))
    try:
        with transaction.atomic():
            return model.objects.create(**scope, client_id=client_id, **fields), True
    except IntegrityError:
        existing = model.objects.filter(**scope, client_id=client_id).first() if client_id else None
        if existing is None:
            raise
        return existing, False


@transaction.atomic
def post_chat_message(
    *, room: ChatRoom, author: User, content: str, client_id: str = ""
) -> ChatMessage:
    """Save a message, broadcast it to every member of the room after commit (mentions or
    not), and owe notifications to the members it mentions.

    Idempotent per (room, author, client_id): a retry returns the first message unchanged.
    """
    content = clean_content(content)
    client_id = clean_client_id(client_id)
    if not access.can_read_room_id(user_id=author.pk, room_id=room.pk):
        raise ValidationError("You are not a member of this room.", code="not_member")
    mentioned = resolve_room_mentions(room, extract_mentions(content), exclude_user_id=author.pk)
    message, created = _save_once(
        ChatMessage,
        thread=room,
        scope={"chat_room": room, "author": author},
        client_id=client_id,
        content=content,
        mentions_notified_at=None if mentioned else timezone.now(),
    )
    if not created:
        return message
    if mentioned:
        message.mentioned_users.add(*mentioned)
        schedule_mention_notifications(kind="chat_message", object_id=message.pk)
    # Sending a message ends the author's typing in this room.
    UserTypingStatus.objects.filter(chat_room=room, user=author).delete()

    payload = realtime.chat_message_payload(message, [user.username for user in mentioned])
    realtime.broadcast_on_commit(realtime.room_group(room.pk), payload)
    return message


@transaction.atomic
def post_task_comment(
    *, task: Task, author: User, content: str, client_id: str = ""
) -> TaskThreadComment:
    """Save a comment on a task, broadcast it to everyone watching the thread after commit,
    and owe notifications to the board members it mentions.

    Idempotent per (task, author, client_id): a retry returns the first comment unchanged.
    """
    content = clean_content(content)
    client_id = clean_client_id(client_id)
    if not access.can_read_task_thread_id(user_id=author.pk, task_id=task.pk):
        raise ValidationError("You are not a member of this board.", code="not_member")
    mentioned = resolve_task_mentions(task, extract_mentions(content), exclude_user_id=author.pk)
    # The board's row lock comes before the comment row (which share-locks the task), in the
    # order every kanban service takes them; the board pages then get the new comment count.
    board_version = kanban_services.lock_board_for(task=task)
    comment, created = _save_once(
        TaskThreadComment,
        thread=task,
        scope={"task": task, "author": author},
        client_id=client_id,
        content=content,
        mentions_notified_at=None if mentioned else timezone.now(),
    )
    kanban_services.note_comment_count(task=task, version=board_version)
    if not created:
        return comment
    if mentioned:
        comment.mentioned_users.add(*mentioned)
        schedule_mention_notifications(kind="comment", object_id=comment.pk)

    payload = realtime.comment_payload(comment, [user.username for user in mentioned])
    realtime.broadcast_on_commit(realtime.task_group(task.pk), payload)
    return comment

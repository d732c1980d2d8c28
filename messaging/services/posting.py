"""Posting chat messages and task comments: the one write path for HTTP and WebSocket.

Each service validates, saves in a transaction, stores the mentions that resolve to people who
can read the text, and schedules (after commit) the broadcast of a payload built once plus the
mention notifications. A retried send with the same `client_id` returns the first row.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from kanban import services as kanban_services
from kanban.models import Task
from kanban_board import metrics
from messaging import access, realtime
from messaging.formatting import render_markdown
from messaging.mentions import extract_mentions
from messaging.models import ChatMessage, ChatRoom, TaskThreadComment, UserTypingStatus
from messaging.selectors.rooms import resolve_room_mentions
from messaging.selectors.threads import resolve_task_mentions
from messaging.services import attachments as attachment_service
from messaging.services.changes import next_seq
from messaging.services.notifications import (
    owes_task_comment_notifications,
    schedule_mention_notifications,
)
from messaging.services.replies import attach_reply, owes_reply_notifications, resolve_parent
from search import services as search_index
from webhooks import events as webhook_events
from webhooks.models import Event as WebhookEvent

CLIENT_ID_MAX_LENGTH = 64
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

Post = TypeVar("Post", ChatMessage, TaskThreadComment)


def clean_content(content: str, *, allow_empty: bool = False) -> str:
    """Stripped text, or ValidationError if it is empty (unless `allow_empty`: a message
    carrying files) or longer than MESSAGE_MAX_LENGTH."""
    if not isinstance(content, str):
        raise ValidationError("Message text must be a string.", code="invalid")
    content = content.strip()
    if not content and not allow_empty:
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
    authorize: Callable[[], None],
    create: Callable[[int], Post],
    prepare: Callable[[], None] = lambda: None,
) -> tuple[Post, bool]:
    """In one transaction: `authorize` (raises ValidationError), `prepare` (work that needs
    no lock), lock the thread, `create` (saves the post and schedules its broadcast). Or
    return the post already saved under (scope, client_id). The lock is taken after the access
    check and the preparation, so it is held only for the insert and the commit.

    No lookup before the insert: the unique constraint on (scope, client_id) decides. A retry
    of a saved post trips it, its transaction (broadcast included) rolls back, and the first
    row is returned instead; a plain post costs no extra statement.

    Posts to one thread are serialized until commit (a row lock on the room or task, taken
    before the insert draws its id), so they become visible in id order. Clients back-fill
    with `history/?after=<last id>`: if two concurrent posts committed out of id order, a
    back-fill between the two commits would return the later id and skip the earlier one for
    good (the fault tier caught a client missing exactly such a message). The statement that
    takes the lock (an UPDATE of the thread's change counter) returns the post's change
    number (`seq`, for `?since=`), which `create` receives."""
    try:
        with transaction.atomic():
            authorize()
            prepare()  # what needs no lock: other posts do not wait for it
            # The counter's UPDATE takes a FOR NO KEY UPDATE lock: it excludes other posters,
            # not foreign-key checks on the thread.
            return create(next_seq(thread)), True
    except IntegrityError:
        existing = model.objects.filter(**scope, client_id=client_id).first() if client_id else None
        if existing is None:
            raise
        return existing, False


def _add_mentions(post: Post, mentioned: list[User]) -> None:
    """Record the mentions in one INSERT (a plain `.add()` first selects the existing rows;
    a new post has none)."""
    through = type(post).mentioned_users.through
    column = f"{type(post)._meta.model_name}_id"
    through.objects.bulk_create([through(**{column: post.pk, "user_id": u.pk}) for u in mentioned])


@metrics.timed_post("chat_message")
def post_chat_message(
    *,
    room: ChatRoom,
    author: User,
    content: str,
    client_id: str = "",
    parent_id: int | None = None,
    clear_typing: bool = True,
    attachment_ids: list[int] | None = None,
) -> ChatMessage:
    """Save a message (a reply when `parent_id` names a message of the room), broadcast it to
    every member of the room after commit (mentions or not), and owe notifications to the
    members it mentions, to the thread's earlier participants (a reply) and to the other
    participants of a direct room. Sending a message ends the author's typing in the room; a
    caller that knows the author recorded no typing row (a socket that never sent `typing`)
    passes `clear_typing=False` and saves that statement.

    Idempotent per (room, author, client_id): a retry returns the first message unchanged.
    `attachment_ids` (issue 12): the author's unsent uploads of the room's organization; the
    text may then be empty. Any other id refuses the whole message.
    """
    attachment_ids = attachment_service.clean_attachment_ids(attachment_ids)
    content = clean_content(content, allow_empty=bool(attachment_ids))
    client_id = clean_client_id(client_id)
    root = resolve_parent(room=room, parent_id=parent_id)

    readers: set[int] = set()

    def authorize() -> None:
        # Checked inside the transaction: the authority, whatever the caller checked before.
        # The same query names the readers whose unread count the message changes (issue 11).
        readers.update(access.room_reader_ids(room.pk))
        if author.pk not in readers:
            raise ValidationError("You are not a member of this room.", code="not_member")

    mentioned: list[User] = []
    html: list[str] = []

    def prepare() -> None:
        # Before the room's lock: each post holds it until commit, so every post to the room
        # waits for this work if it is done under the lock (40 posts/s into one room queued
        # up behind it on a slow machine: fault scenario a).
        mentioned.extend(
            resolve_room_mentions(room, extract_mentions(content), exclude_user_id=author.pk)
        )
        html.append(render_markdown(content, mentions=[user.username for user in mentioned]))
        if clear_typing:
            UserTypingStatus.objects.filter(chat_room=room, user=author).delete()

    def create(seq: int) -> ChatMessage:
        owes = bool(mentioned) or owes_reply_notifications(room=room, root=root)
        message = ChatMessage.objects.create(
            chat_room=room,
            author=author,
            client_id=client_id,
            content=content,
            parent=root,
            seq=seq,
            html=html[0],
            mentions_notified_at=None if owes else timezone.now(),
        )
        files = attachment_service.claim_attachments(
            ids=attachment_ids, owner=author, organization_id=access.room_organization_id(room)
        )
        for attachment in files:  # one by one: the through rows keep the order sent
            message.attachments.add(attachment)
        message.has_attachments = bool(files)  # search's has:attachment
        search_index.index_message(message)
        if mentioned:
            _add_mentions(message, mentioned)
        if owes:
            schedule_mention_notifications(kind="chat_message", object_id=message.pk)
        payload = realtime.chat_message_payload(
            message,
            [user.username for user in mentioned],
            attachments=[attachment_service.attachment_item(a) for a in files],
        )
        realtime.broadcast_on_commit(realtime.room_group(room.pk), payload)
        # Issue 15: after commit, one cache read (no SQL) unless the board has webhooks.
        webhook_events.emit_on_commit(
            board_id=room.board_id,
            event=WebhookEvent.MESSAGE_POSTED,
            object_id=message.pk,
            actor_id=author.pk,
        )
        # Every other reader's notification sockets recount the room (room_unread frames).
        realtime.room_activity_on_commit(room.pk, readers - {author.pk})
        if root is not None:
            attach_reply(room=room, root=root, reply=message)  # thread_updated
        return message

    message, _created = _save_once(
        ChatMessage,
        thread=room,
        scope={"chat_room": room, "author": author},
        client_id=client_id,
        authorize=authorize,
        prepare=prepare,
        create=create,
    )
    return message


@metrics.timed_post("comment")
def post_task_comment(
    *,
    task: Task,
    author: User,
    content: str,
    client_id: str = "",
    attachment_ids: list[int] | None = None,
) -> TaskThreadComment:
    """Save a comment on a task, broadcast it to everyone watching the thread after commit,
    and owe notifications to the board members it mentions and to the task's creator and
    assignee (issue 11).

    Idempotent per (task, author, client_id): a retry returns the first comment unchanged.
    `attachment_ids`: as for chat messages (issue 12).
    """
    attachment_ids = attachment_service.clean_attachment_ids(attachment_ids)
    content = clean_content(content, allow_empty=bool(attachment_ids))
    client_id = clean_client_id(client_id)

    board_version: list[int] = []

    def authorize() -> None:
        if not access.can_read_task_thread_id(user_id=author.pk, task_id=task.pk):
            raise ValidationError("You are not a member of this board.", code="not_member")
        # The board's row lock comes before the task's (and the comment row, which share-locks
        # the task), in the order every kanban service takes them; the board pages then get
        # the new comment count.
        board_version.append(kanban_services.lock_board_for(task=task))

    mentioned: list[User] = []
    html: list[str] = []

    def prepare() -> None:  # before the task's lock, as for chat messages
        mentioned.extend(
            resolve_task_mentions(task, extract_mentions(content), exclude_user_id=author.pk)
        )
        html.append(render_markdown(content, mentions=[user.username for user in mentioned]))

    def create(seq: int) -> TaskThreadComment:
        owes = bool(mentioned) or owes_task_comment_notifications(task=task, author_id=author.pk)
        comment = TaskThreadComment.objects.create(
            task=task,
            author=author,
            client_id=client_id,
            content=content,
            seq=seq,
            html=html[0],
            mentions_notified_at=None if owes else timezone.now(),
        )
        files = attachment_service.claim_attachments(
            ids=attachment_ids,
            owner=author,
            organization_id=task.column.board.organization_id,
        )
        for attachment in files:
            comment.attachments.add(attachment)
        comment.has_attachments = bool(files)  # search's has:attachment
        search_index.index_comment(comment)
        if mentioned:
            _add_mentions(comment, mentioned)
        if owes:  # mentions, and the task's creator and assignee (issue 11)
            schedule_mention_notifications(kind="comment", object_id=comment.pk)
        kanban_services.note_comment_count(task=task, version=board_version[-1])
        payload = realtime.comment_payload(
            comment,
            [user.username for user in mentioned],
            attachments=[attachment_service.attachment_item(a) for a in files],
        )
        realtime.broadcast_on_commit(realtime.task_group(task.pk), payload)
        webhook_events.emit_on_commit(
            board_id=task.column.board_id,
            event=WebhookEvent.COMMENT_ADDED,
            object_id=comment.pk,
            actor_id=author.pk,
        )
        return comment

    comment, _created = _save_once(
        TaskThreadComment,
        thread=task,
        scope={"task": task, "author": author},
        client_id=client_id,
        authorize=authorize,
        prepare=prepare,
        create=create,
    )
    return comment

"""Reads for conversations (issue 10): one message or comment for a user, moderators,
history pages with reactions, thread pages, changes since a sequence number, edit history.

"Missing" equals "not yours": a message in a room the user cannot read is a 404, like a
nonexistent id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Max, Prefetch, QuerySet
from django.http import Http404

from accounts.models import User
from kanban.models import Task
from messaging import access, realtime
from messaging.models import (
    ChatMessage,
    ChatMessageEdit,
    ChatRoom,
    Reaction,
    TaskThreadComment,
    TaskThreadCommentEdit,
)

from .paging import Page, around_page, keyset_page
from .rooms import rooms_for

# --- one post ----------------------------------------------------------------------------


def get_message_for(user: User, message_id: int) -> ChatMessage:
    message = (
        ChatMessage.objects.filter(pk=message_id, chat_room__in=rooms_for(user))
        .select_related("author", "chat_room__board", "chat_room__created_by")
        .first()
    )
    if message is None:
        raise Http404("No such message.")
    return message


def get_comment_for(user: User, comment_id: int) -> TaskThreadComment:
    if not user.is_authenticated:
        raise Http404("No such comment.")
    comment = (
        TaskThreadComment.objects.filter(pk=comment_id, task__in=access.readable_task_threads(user))
        .select_related("author", "task__column__board")
        .first()
    )
    if comment is None:
        raise Http404("No such comment.")
    return comment


# --- reactions ---------------------------------------------------------------------------


def reactions_by_post(field: str, ids: Iterable[int]) -> dict[int, realtime.Reactions]:
    """Reaction summaries for many posts in one query (`field`: chat_message or
    task_thread_comment)."""
    ids = list(ids)
    rows: dict[int, list[tuple[str, str]]] = defaultdict(list)
    if ids:
        for post_id, emoji, username in (
            Reaction.objects.filter(**{f"{field}_id__in": ids})
            .order_by("pk")
            .values_list(f"{field}_id", "emoji", "user__username")
        ):
            rows[post_id].append((emoji, username))
    return {post_id: realtime.reaction_summary(pairs) for post_id, pairs in rows.items()}


def post_reactions(post: ChatMessage | TaskThreadComment) -> realtime.Reactions:
    field = "chat_message" if isinstance(post, ChatMessage) else "task_thread_comment"
    return reactions_by_post(field, [post.pk]).get(post.pk, [])


# --- pages -------------------------------------------------------------------------------


def attachment_items_by_post(
    model: type[ChatMessage] | type[TaskThreadComment], ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    """Issue 12: the attachments of many messages or comments, in one query."""
    from messaging.services.attachments import attachment_item

    through = model.attachments.through
    post_field = "chatmessage_id" if model is ChatMessage else "taskthreadcomment_id"
    result: dict[int, list[dict[str, Any]]] = {}
    if not ids:
        return result
    rows = (
        through.objects.filter(**{f"{post_field}__in": ids})
        .select_related("attachment")
        .order_by("id")
    )
    for row in rows:
        result.setdefault(getattr(row, post_field), []).append(attachment_item(row.attachment))
    return result


def _mentions() -> Prefetch:
    return Prefetch("mentioned_users", queryset=User.objects.only("pk", "username"))


def message_payloads(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """Wire payloads for loaded messages (authors and mentions prefetched): one more query
    for all their reactions."""
    reactions = reactions_by_post("chat_message", (m.pk for m in messages))
    files = attachment_items_by_post(ChatMessage, [m.pk for m in messages])
    return [
        realtime.chat_message_payload(
            m,
            [u.username for u in m.mentioned_users.all()],
            reactions.get(m.pk, []),
            files.get(m.pk, []),
        )
        for m in messages
    ]


def comment_payloads(comments: list[TaskThreadComment]) -> list[dict[str, Any]]:
    reactions = reactions_by_post("task_thread_comment", (c.pk for c in comments))
    files = attachment_items_by_post(TaskThreadComment, [c.pk for c in comments])
    return [
        realtime.comment_payload(
            c,
            [u.username for u in c.mentioned_users.all()],
            reactions.get(c.pk, []),
            files.get(c.pk, []),
        )
        for c in comments
    ]


def room_messages(room: ChatRoom, *, parent: int | None = None) -> QuerySet[ChatMessage]:
    """Top-level messages of the room, or the replies of one root (`parent`)."""
    queryset = ChatMessage.objects.filter(chat_room=room).select_related("author")
    if parent is None:
        return queryset.filter(parent__isnull=True)
    return queryset.filter(parent_id=parent)


def get_thread_root(room: ChatRoom, root_id: int) -> ChatMessage:
    root = room_messages(room).filter(pk=root_id).first()
    if root is None:
        raise Http404("No such thread.")
    return root


def message_history_page(
    room: ChatRoom,
    *,
    parent: int | None = None,
    before: int | None = None,
    after: int | None = None,
    limit: int,
    around: int | None = None,
) -> Page[ChatMessage] | None:
    """A keyset page of top-level messages, or of one thread (three queries). With `around`:
    the page centred on that message (on its thread's root for a reply, at top level), None
    if it is not there."""
    queryset = room_messages(room, parent=parent).prefetch_related(_mentions())
    if around is not None:
        if parent is None:
            root_id = (
                ChatMessage.objects.filter(pk=around, chat_room=room)
                .values_list("parent_id", flat=True)
                .first()
            )
            around = root_id or around
        return around_page(queryset, around=around, limit=limit)
    return keyset_page(queryset, before=before, after=after, limit=limit)


def changes_page(
    rows: QuerySet[ChatMessage] | QuerySet[TaskThreadComment], *, since: int, limit: int
) -> Page:
    """Every row changed after sequence number `since`, in sequence order (tombstones too)."""
    found = list(
        rows.filter(seq__gt=since).prefetch_related(_mentions()).order_by("seq")[: limit + 1]
    )
    return Page(items=found[:limit], has_more=len(found) > limit)


def room_changes(room: ChatRoom, *, since: int, limit: int) -> Page[ChatMessage]:
    return changes_page(
        ChatMessage.objects.filter(chat_room=room).select_related("author"),
        since=since,
        limit=limit,
    )


def task_changes(task: Task, *, since: int, limit: int) -> Page[TaskThreadComment]:
    return changes_page(
        TaskThreadComment.objects.filter(task=task).select_related("author"),
        since=since,
        limit=limit,
    )


def thread_seq(thread: ChatRoom | Task) -> int:
    """The thread's latest change sequence number (0 before any post)."""
    if isinstance(thread, ChatRoom):
        rows = ChatMessage.objects.filter(chat_room=thread)
    else:
        rows = TaskThreadComment.objects.filter(task=thread)
    return rows.aggregate(top=Max("seq"))["top"] or 0


# --- edit history ------------------------------------------------------------------------


def edit_history(post: ChatMessage | TaskThreadComment) -> list[dict[str, Any]]:
    """Earlier versions, oldest first, then the current one (empty for a tombstone)."""
    if post.is_deleted:
        return []
    model = ChatMessageEdit if isinstance(post, ChatMessage) else TaskThreadCommentEdit
    field = "message" if isinstance(post, ChatMessage) else "comment"
    versions = [
        {
            "content": edit.content,
            "html": edit.html,
            "created_at": realtime.iso(edit.created_at),
            "replaced_at": realtime.iso(edit.replaced_at),
        }
        for edit in model.objects.filter(**{field: post}).order_by("pk")
    ]
    versions.append(
        {
            "content": post.content,
            "html": post.html,
            "created_at": realtime.iso(post.edited_at or post.created_at),
            "replaced_at": None,
        }
    )
    return versions

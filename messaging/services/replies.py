"""Replies (threads one level deep, like Slack): which message a reply attaches to, and the
root's reply count and last reply time."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, F, Max

from messaging import realtime
from messaging.models import ChatMessage, ChatRoom
from messaging.services.changes import next_seq


def resolve_parent(*, room: ChatRoom, parent_id: Any) -> ChatMessage | None:
    """The root a reply to `parent_id` attaches to (a reply to a reply joins its root's
    thread), or None at top level. A parent that is missing, in another room or deleted is a
    ValidationError: nothing is saved."""
    if parent_id in (None, ""):
        return None
    if isinstance(parent_id, bool) or not isinstance(parent_id, int | str):
        raise ValidationError('"parent_id" must be a message id.', code="invalid")
    try:
        parent_id = int(parent_id)
    except ValueError:
        raise ValidationError('"parent_id" must be a message id.', code="invalid") from None
    parent = (
        ChatMessage.objects.filter(pk=parent_id, chat_room=room).select_related("parent").first()
    )
    if parent is None:
        raise ValidationError("The message you replied to is not in this room.", code="parent")
    if parent.is_deleted:
        raise ValidationError("The message you replied to was deleted.", code="parent_deleted")
    return parent.parent if parent.parent_id else parent


def owes_reply_notifications(*, room: ChatRoom, root: ChatMessage | None) -> bool:
    """Whether a new message owes notifications beyond its mentions: every reply (the root's
    author and earlier repliers hear of it) and every direct message."""
    return root is not None or room.room_type == ChatRoom.RoomType.DIRECT


def attach_reply(*, room: ChatRoom, root: ChatMessage, reply: ChatMessage) -> None:
    """Count the reply on its root (a changed row: it gets the next sequence number) and tell
    the room after commit. Call inside the posting transaction, with the room locked."""
    seq = next_seq(room)
    ChatMessage.objects.filter(pk=root.pk).update(
        reply_count=F("reply_count") + 1, last_reply_at=reply.created_at, seq=seq
    )
    root.refresh_from_db(fields=["reply_count", "last_reply_at", "seq"])
    realtime.broadcast_on_commit(
        realtime.room_group(root.chat_room_id), realtime.thread_updated_payload(root)
    )


def detach_reply(*, room: ChatRoom, reply: ChatMessage) -> None:
    """A reply was deleted: its root counts only the replies left and its last reply time
    follows them (a changed row: the next sequence number), and the room hears of it after
    commit. Call inside the deleting transaction, with the room locked."""
    left = ChatMessage.objects.filter(parent_id=reply.parent_id, is_deleted=False).aggregate(
        count=Count("pk"), last=Max("created_at")
    )
    ChatMessage.objects.filter(pk=reply.parent_id).update(
        reply_count=left["count"], last_reply_at=left["last"], seq=next_seq(room)
    )
    root = ChatMessage.objects.get(pk=reply.parent_id)
    realtime.broadcast_on_commit(
        realtime.room_group(root.chat_room_id), realtime.thread_updated_payload(root)
    )

"""The one place that knows channel-layer group names, event types and payload shapes.

Services build a payload once (JSON-safe primitives), serialize it once, and schedule the
broadcast after commit. Consumers subscribe to groups and forward the prepared text unchanged:
no ORM work in event handlers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from channels.layers import get_channel_layer
from django.db import transaction

from kanban_board import metrics
from messaging import layers

if TYPE_CHECKING:
    from accounts.models import User

    from .models import ChatMessage, Notification, TaskThreadComment

logger = logging.getLogger(__name__)

# Channel-layer event type: consumers implement a `forward` handler that sends event["text"].
FORWARD = "forward"
# Channel-layer event type for pushes meant for one user's notification sockets (badge, toasts).
# Chat and comment sockets also sit in user_<id> (to hear ACCESS_CHANGED) and ignore these.
USER_PUSH = "user.push"
# Channel-layer event type asking a user's sockets to re-check access (membership revoked,
# user deactivated, logged out): consumers implement `access_changed`.
ACCESS_CHANGED = "access.changed"
# Channel-layer event type for presence frames (issue 11): forwarded only by sockets whose page
# speaks presence (it has sent a `heartbeat`), so clients that never asked hear none.
PRESENCE_STATUS = "presence.status"
# Channel-layer event type (issue 11) sent to the `unread_group`s of a room's readers when
# its unread counts may have changed for them (a message arrived or was deleted): each
# notifications socket answers with its own user's `room_unread` frame (one query on that
# socket, none on the poster's path). Carries "room_id".
ROOM_ACTIVITY = "room.activity"


def room_group(room_id: int) -> str:
    return f"chat_room_{room_id}"


def task_group(task_id: int) -> str:
    return f"task_comments_{task_id}"


def board_group(board_id: int) -> str:
    """Every open board and task page of one board (ws/board/<id>/; frames: kanban.realtime)."""
    return f"board_{board_id}"


def user_group(user_id: int) -> str:
    return f"user_{user_id}"


def presence_groups(*, room_ids: Iterable[int], board_ids: Iterable[int]) -> list[str]:
    """Where a user's presence changes go: the rooms and boards they can read (open room,
    direct room, board and task pages)."""
    return [*(room_group(r) for r in room_ids), *(board_group(b) for b in board_ids)]


def unread_group(user_id: int) -> str:
    """A user's notification sockets only (issue 11: ROOM_ACTIVITY), so that a message's
    fan-out to the room's readers wakes no chat, thread or board socket, and a reader with no
    page open costs one empty group send."""
    return f"unread_{user_id}"


def iso(dt: datetime) -> str:
    """ISO 8601 in UTC with a Z suffix."""
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- payload builders -------------------------------------------------------------------


Reactions = list[dict[str, Any]]
Attachments = Iterable[dict[str, Any]]


def _opt_iso(dt: datetime | None) -> str | None:
    return iso(dt) if dt is not None else None


def _post_state(
    post: ChatMessage | TaskThreadComment, reactions: Reactions, attachments: Attachments = ()
) -> dict[str, Any]:
    """Fields shared by messages and comments (issue 10). A tombstone carries no text."""
    return {
        # Issue 12: messaging.services.attachments.attachment_item() per file.
        "attachments": [] if post.is_deleted else list(attachments),
        "html": "" if post.is_deleted else post.html,
        "is_edited": post.is_edited,
        "edited_at": _opt_iso(post.edited_at),
        "is_deleted": post.is_deleted,
        "reactions": [] if post.is_deleted else reactions,
        "seq": post.seq,
    }


def chat_message_payload(
    message: ChatMessage,
    mentioned: Iterable[str],
    reactions: Reactions = (),
    attachments: Attachments = (),
) -> dict[str, Any]:
    author = message.author
    return {
        "type": "chat_message",
        "message_id": message.pk,
        "room_id": message.chat_room_id,
        "username": author.username,
        "display_name": author.get_display_name(),
        "user_id": author.pk,
        "is_bot": author.is_bot,  # issue 15: an incoming webhook's post
        "message": "" if message.is_deleted else message.content,
        "timestamp": iso(message.created_at),
        "mentioned_users": [] if message.is_deleted else sorted(mentioned),
        "client_id": message.client_id or None,
        "parent_id": message.parent_id,
        "reply_count": message.reply_count,
        "last_reply_at": _opt_iso(message.last_reply_at),
        **_post_state(message, list(reactions), attachments),
    }


def comment_payload(
    comment: TaskThreadComment,
    mentioned: Iterable[str],
    reactions: Reactions = (),
    attachments: Attachments = (),
) -> dict[str, Any]:
    author = comment.author
    return {
        "type": "new_comment",
        "comment_id": comment.pk,
        "task_id": comment.task_id,
        "username": author.username,
        "display_name": author.get_display_name(),
        "user_id": author.pk,
        "comment": "" if comment.is_deleted else comment.content,
        "timestamp": iso(comment.created_at),
        "mentioned_users": [] if comment.is_deleted else sorted(mentioned),
        "client_id": comment.client_id or None,
        **_post_state(comment, list(reactions), attachments),
    }


def thread_updated_payload(root: ChatMessage) -> dict[str, Any]:
    return {
        "type": "thread_updated",
        "message_id": root.pk,
        "room_id": root.chat_room_id,
        "reply_count": root.reply_count,
        "last_reply_at": _opt_iso(root.last_reply_at),
        "seq": root.seq,
    }


def message_edited_payload(message: ChatMessage, mentioned: Iterable[str]) -> dict[str, Any]:
    return {
        "type": "message_edited",
        "message_id": message.pk,
        "room_id": message.chat_room_id,
        "message": message.content,
        "html": message.html,
        "edited_at": _opt_iso(message.edited_at),
        "mentioned_users": sorted(mentioned),
        "parent_id": message.parent_id,
        "seq": message.seq,
    }


def comment_edited_payload(comment: TaskThreadComment, mentioned: Iterable[str]) -> dict[str, Any]:
    return {
        "type": "comment_edited",
        "comment_id": comment.pk,
        "task_id": comment.task_id,
        "comment": comment.content,
        "html": comment.html,
        "edited_at": _opt_iso(comment.edited_at),
        "mentioned_users": sorted(mentioned),
        "seq": comment.seq,
    }


def message_deleted_payload(message: ChatMessage) -> dict[str, Any]:
    return {
        "type": "message_deleted",
        "message_id": message.pk,
        "room_id": message.chat_room_id,
        "parent_id": message.parent_id,
        "seq": message.seq,
    }


def comment_deleted_payload(comment: TaskThreadComment) -> dict[str, Any]:
    return {
        "type": "comment_deleted",
        "comment_id": comment.pk,
        "task_id": comment.task_id,
        "seq": comment.seq,
    }


def reactions_payload(
    post: ChatMessage | TaskThreadComment, reactions: Reactions
) -> dict[str, Any]:
    """`{"type": "reactions", "message_id", "room_id", "reactions"}` for a message, with
    `comment_id`/`task_id` for a comment. Also the HTTP answer to a react request."""
    from .models import ChatMessage

    if isinstance(post, ChatMessage):
        where = {"message_id": post.pk, "room_id": post.chat_room_id}
    else:
        where = {"comment_id": post.pk, "task_id": post.task_id}
    return {"type": "reactions", **where, "reactions": reactions, "seq": post.seq}


def reaction_summary(rows: Iterable[tuple[str, str]]) -> Reactions:
    """(emoji, username) pairs in reaction order -> [{"emoji", "count", "usernames"}], each
    emoji in the order it was first used."""
    grouped: dict[str, list[str]] = {}
    for emoji, username in rows:
        grouped.setdefault(emoji, []).append(username)
    return [
        {"emoji": emoji, "count": len(names), "usernames": names}
        for emoji, names in grouped.items()
    ]


def typing_payload(user: User, *, typing: bool) -> dict[str, Any]:
    return {
        "type": "user_typing" if typing else "user_stop_typing",
        "username": user.username,
        "display_name": user.get_display_name(),
        "user_id": user.pk,
    }


def presence_payload(user: User, *, joined: bool) -> dict[str, Any]:
    return {
        "type": "user_join" if joined else "user_leave",
        "username": user.username,
        "display_name": user.get_display_name(),
        "user_id": user.pk,
    }


def presence_status_payload(*, user_id: int, username: str, status: str) -> dict[str, Any]:
    """`{"type": "presence", "user_id", "username", "status"}`: online, away or offline."""
    return {"type": "presence", "user_id": user_id, "username": username, "status": status}


def notification_payload(notification: Notification, *, unread_count: int) -> dict[str, Any]:
    sender = notification.sender
    return {
        "type": "notification",
        "notification_id": notification.pk,
        "notification_type": notification.notification_type,
        "text": notification.text,
        "url": notification.get_absolute_url(),
        "sender": sender.username if sender else None,
        "created_at": iso(notification.created_at),
        "unread_count": unread_count,
    }


def unread_count_payload(count: int) -> dict[str, Any]:
    return {"type": "unread_count", "count": count}


def notification_dismissed_payload(notification_id: int, *, unread_count: int) -> dict[str, Any]:
    """Issue 11: every tab of the recipient drops the row and shows the new count."""
    return {
        "type": "notification_dismissed",
        "notification_id": notification_id,
        "unread_count": unread_count,
    }


def room_unread_payload(item: dict[str, Any]) -> dict[str, Any]:
    """`{"type": "room_unread", "room_id", "unread", "mentions", "muted", "last_message_id",
    "last_read_message_id"}` from one `messaging.selectors.unread` item: pushed to the user's
    notification sockets."""
    return {
        "type": "room_unread",
        "room_id": item["room_id"],
        "unread": item["unread"],
        "mentions": item["mentions"],
        "muted": item["muted"],
        "last_message_id": item["last_message_id"],
        "last_read_message_id": item["last_read_message_id"],
    }


def read_receipt_payload(*, room_id: int, user: User, message_id: int) -> dict[str, Any]:
    """Someone's read pointer in a small room moved (issue 11: "Seen by bob")."""
    return {
        "type": "read_receipt",
        "room_id": room_id,
        "user_id": user.pk,
        "username": user.username,
        "display_name": user.get_display_name(),
        "message_id": message_id,
    }


def error_payload(message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "message": message, **extra}


# --- sending ----------------------------------------------------------------------------


def forward_event(
    payload: dict[str, Any], *, exclude_user_id: int | None = None, event_type: str = FORWARD
) -> dict:
    """A channel-layer event carrying the payload serialized once."""
    # UTF-8 as is (not \uXXXX escapes): a message carries its text twice (text and html), and
    # a maximal message of emoji escaped would be 12 bytes a character, over the frame limit.
    # Stored text never holds a lone surrogate (the services refuse them), so this encodes.
    event: dict[str, Any] = {"type": event_type, "text": json.dumps(payload, ensure_ascii=False)}
    if exclude_user_id is not None:
        event["exclude_user_id"] = exclude_user_id
    ack = ack_for(payload)
    if ack is not None:
        event["ack"] = ack
        event["author_id"] = payload.get("user_id")
    return event


def ack_for(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The `ack` frame a new post's author gets (when the post carried a client_id). The
    author's own socket sends it before the post's broadcast frame, whichever reaches the
    socket first: the post's save or its broadcast (the consumers' frames run apart from
    the group events)."""
    client_id = payload.get("client_id")
    if not client_id:
        return None
    if payload.get("type") == "chat_message":
        return {"type": "ack", "client_id": client_id, "message_id": payload["message_id"]}
    if payload.get("type") == "new_comment":
        # `comment_id` names the row; `message_id` too, so one client ack handler serves both.
        comment_id = payload["comment_id"]
        return {
            "type": "ack",
            "client_id": client_id,
            "comment_id": comment_id,
            "message_id": comment_id,
        }
    return None


def broadcast_now(
    group: str,
    payload: dict[str, Any],
    *,
    exclude_user_id: int | None = None,
    event_type: str = FORWARD,
    scheduled_at: float | None = None,
) -> None:
    """Send to a group from sync code, without waiting for the send: it leaves from the
    server's event loop, after the group's earlier broadcasts (`layers.send_from_sync`). A
    layer outage is logged, never raised: the data is already saved and clients back-fill from
    the history endpoints. `scheduled_at` (perf_counter): when the broadcast was asked for,
    for the broadcast-latency metric."""
    event = forward_event(payload, exclude_user_id=exclude_user_id, event_type=event_type)
    scheduled_at = time.perf_counter() if scheduled_at is None else scheduled_at
    started = time.monotonic()

    def lost() -> None:
        # This process's sockets may have missed it too: they are closed and back-fill.
        layers.note_layer_failure(started=started)
        metrics.broadcast_done(scheduled_at, False)

    async def send() -> None:
        await layers.group_send_retrying(get_channel_layer(), group, event)
        metrics.broadcast_done(scheduled_at, True)

    layers.send_from_sync(
        send, what=f"broadcast to {group} (clients back-fill)", order_keys=[group], on_lost=lost
    )


def broadcast_on_commit(
    group: str,
    payload: dict[str, Any],
    *,
    exclude_user_id: int | None = None,
    event_type: str = FORWARD,
) -> None:
    """Broadcast after the current transaction commits (at once outside a transaction)."""
    scheduled_at = time.perf_counter()
    transaction.on_commit(
        lambda: broadcast_now(
            group,
            payload,
            exclude_user_id=exclude_user_id,
            event_type=event_type,
            scheduled_at=scheduled_at,
        ),
        robust=True,
    )


def push_to_user_on_commit(user_id: int, payload: dict[str, Any]) -> None:
    """After commit, send a payload to every notification socket of one user."""
    broadcast_on_commit(user_group(user_id), payload, event_type=USER_PUSH)


def push_to_users_on_commit(pushes: list[tuple[int, dict[str, Any]]]) -> None:
    """After commit, send each (user id, payload) to that user's notification sockets: all
    of them in one trip to the event loop, the group sends concurrent (a mention of ten
    people is one hop, not ten)."""
    if not pushes:
        return
    events = [(user_group(uid), forward_event(p, event_type=USER_PUSH)) for uid, p in pushes]

    async def send_all() -> None:
        layer = get_channel_layer()
        results = await asyncio.gather(
            *(layer.group_send(group, event) for group, event in events), return_exceptions=True
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise failed[0]

    groups = [group for group, _ in events]
    what = f"pushing {len(events)} notification(s)"
    transaction.on_commit(
        lambda: layers.send_from_sync(send_all, what=what, order_keys=groups), robust=True
    )


def signal_access_changed_on_commit(user_id: int) -> None:
    """Ask every open socket of a user to re-check its access after commit."""
    event = {"type": ACCESS_CHANGED}
    group = user_group(user_id)

    async def send() -> None:
        await get_channel_layer().group_send(group, event)

    # After the frames the same service sent before it (e.g. "member_removed" to the board).
    # If it fails, the sockets here are closed and re-check access on reconnect.
    what = f"access-change signal for user {user_id}"
    transaction.on_commit(
        lambda: layers.send_from_sync(send, what=what, order_keys=[group]), robust=True
    )


def room_activity_on_commit(room_id: int, user_ids: Iterable[int]) -> None:
    """After commit, tell these users' notification sockets that their unread counts in the
    room may have changed (ROOM_ACTIVITY): all sends in one trip to the event loop. A layer
    failure is logged; the pages re-fetch the counts when their socket reconnects."""
    groups = [unread_group(uid) for uid in user_ids]
    if not groups:
        return
    event = {"type": ROOM_ACTIVITY, "room_id": room_id}

    async def send() -> None:
        await layers.group_send_to_listeners(get_channel_layer(), groups, event)

    # After the message's own broadcast (the same thread hands both over); no group order.
    what = f"room activity for room {room_id}"
    transaction.on_commit(lambda: layers.send_from_sync(send, what=what), robust=True)

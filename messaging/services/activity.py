"""Activity notifications (issue 11): a task assigned to someone, someone added to a board or
a room. (Comments on a person's task, direct messages and replies ride the mention path in
`messaging.services.notifications`, keyed by their message or comment.)

The service that made the change calls `schedule_activity_notification` inside its
transaction; after commit a Celery task (`messaging.tasks.notify_activity`) takes the ids and
calls `create_activity_notification`. Each notification is keyed by its event
(`event_key`, built from a row the change wrote: the task's activity entry, the audit entry),
unique with the recipient, so a redelivered or repeated task creates and pushes nothing
twice. Never about a person's own action; never to someone who can no longer read the
thing it points at.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction

from accounts.models import User
from kanban import access as board_access
from kanban.models import Board, Task
from messaging import access, realtime
from messaging.models import ChatRoom, Notification
from messaging.selectors.notifications import unread_count

if TYPE_CHECKING:
    from django.db.models import Model

logger = logging.getLogger(__name__)

ACTIVITY_KINDS = (
    Notification.Type.TASK_ASSIGNED,
    Notification.Type.BOARD_INVITE,
    Notification.Type.ROOM_INVITE,
)


def event_key(kind: str, event: Model) -> str:
    """`task_assigned:<activity id>`, `board_invite:<audit id>`: one event, one key."""
    return f"{kind}:{event._meta.model_name}:{event.pk}"


def schedule_activity_notification(
    *, kind: str, recipient_id: int | None, actor_id: int, target_id: int, key: str
) -> None:
    """After commit, queue the task that notifies `recipient_id` of `kind` about the target
    (a task for `task_assigned`, a board, a room). Nothing for nobody or for the actor
    themselves. A broker failure is logged and swallowed (the change itself stands)."""
    if kind not in ACTIVITY_KINDS:
        raise ValueError(f"unknown activity notification {kind!r}")
    if recipient_id is None or recipient_id == actor_id:
        return

    def enqueue() -> None:
        from messaging.tasks import notify_activity

        try:
            notify_activity.apply_async(
                args=[kind, recipient_id, actor_id, target_id, key], retry=False
            )
        except Exception:  # broker down: this in-app notification is lost, the change is not
            logger.warning("could not queue %s notification for user %s", kind, recipient_id)

    transaction.on_commit(enqueue, robust=True)


def _target(kind: str, target_id: int, recipient_id: int) -> tuple[Model, str, dict] | None:
    """The target (None if gone or no longer readable by the recipient), the words after the
    actor's name, and the Notification fields that link it."""
    if kind == Notification.Type.TASK_ASSIGNED:
        task = Task.objects.select_related("column__board").filter(pk=target_id).first()
        if task is None or task.assignee_id != recipient_id:
            return None  # reassigned (or unassigned) before the task ran
        if not board_access.can_read_task_id(user_id=recipient_id, task_id=task.pk):
            return None
        return task, f'assigned you "{task.title}" on {task.column.board.name}', {"task": task}
    if kind == Notification.Type.BOARD_INVITE:
        board = Board.objects.filter(pk=target_id).first()
        if board is None or not board_access.board_readers(board.pk).filter(pk=recipient_id):
            return None
        return board, f"added you to the board {board.name}", {"board": board}
    if kind == Notification.Type.ROOM_INVITE:
        room = ChatRoom.objects.filter(pk=target_id).first()
        if room is None or not access.can_read_room_id(user_id=recipient_id, room_id=room.pk):
            return None
        return room, f"added you to {room}", {"chat_room": room}
    raise ValueError(f"unknown activity notification {kind!r}")


def create_activity_notification(
    *, kind: str, recipient_id: int, actor_id: int, target_id: int, key: str
) -> Notification | None:
    """Create the one notification for this event and recipient and push it after commit.
    Returns None when it exists already, the target is gone or no longer readable by the
    recipient, or the recipient is the actor."""
    if recipient_id == actor_id:
        return None
    actor = User.objects.filter(pk=actor_id).first()
    found = _target(kind, target_id, recipient_id)
    if found is None or actor is None:
        return None
    _target_row, words, link = found
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                recipient_id=recipient_id,
                sender=actor,
                notification_type=kind,
                text=f"{actor.username} {words}",
                event_key=key,
                **link,
            )
            realtime.push_to_user_on_commit(
                recipient_id,
                realtime.notification_payload(
                    notification, unread_count=unread_count(recipient_id)
                ),
            )
    except IntegrityError:  # this event's notification exists: a redelivered task
        return None
    return notification

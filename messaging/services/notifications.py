"""Mention notifications: scheduling (called by the posting services), creation (the Celery
task's body), reading, and the sweep. Delivery of a message never waits on this: a message
reaches its room at once; notifications follow through Celery, and the periodic sweep creates
any that a dead broker or worker lost.

Every change here pushes to the recipient's `user_<id>` group after commit, so each open tab's
badge shows the same count."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from kanban_board import metrics
from messaging import access, realtime
from messaging.models import ChatMessage, ChatRoom, Notification, TaskThreadComment
from messaging.selectors.notifications import unread_count, unread_counts

if TYPE_CHECKING:
    from accounts.models import User
    from kanban.models import Task

logger = logging.getLogger(__name__)

TargetKind = Literal["chat_message", "comment"]
EXCERPT_LENGTH = 80


def schedule_mention_notifications(*, kind: TargetKind, object_id: int) -> None:
    """After commit, queue the Celery task that notifies the users mentioned in a chat message
    or comment. A broker failure is logged and swallowed: the object keeps
    `mentions_notified_at = NULL`, so `sweep_missed_mentions` creates them later."""

    def enqueue() -> None:
        from messaging.tasks import notify_mentions

        try:
            notify_mentions.apply_async(args=[kind, object_id], retry=False)
        except Exception:  # broker down or unreachable: the sweep catches up
            logger.warning("could not queue mention notifications for %s %s", kind, object_id)

    transaction.on_commit(enqueue, robust=True)


# --- creation ---------------------------------------------------------------------------


def _excerpt(content: str) -> str:
    text = " ".join(content.split())
    if len(text) > EXCERPT_LENGTH:
        return text[:EXCERPT_LENGTH].rstrip() + "..."
    return text


def mention_text(target: ChatMessage | TaskThreadComment) -> str:
    """`alice mentioned you in #General: "..."` / `alice mentioned you on "Title": "..."`."""
    excerpt = _excerpt(target.content)
    if isinstance(target, ChatMessage):
        where = f"in {target.chat_room}"  # "#general", or the people of a direct room
    else:
        where = f'on "{target.task.title}"'
    return f'{target.author.username} mentioned you {where}: "{excerpt}"'


def _load_target(kind: TargetKind, object_id: int) -> ChatMessage | TaskThreadComment | None:
    """The target with its author and room/task, its row locked until commit: concurrent runs
    for one target (a redelivered task, the sweep) take turns, so each notification is created
    and pushed exactly once."""
    if kind == "chat_message":
        targets = ChatMessage.objects.select_related("author", "chat_room")
    elif kind == "comment":
        targets = TaskThreadComment.objects.select_related("author", "task")
    else:
        raise ValueError(f"unknown mention target kind {kind!r}")
    return targets.select_for_update(of=("self",)).filter(pk=object_id).first()


def _recipients(target: ChatMessage | TaskThreadComment) -> list[User]:
    """Mentioned users who can still read the target (`access.readers_of`: its room's or its
    task's readers), minus its author and bots (issue 15). One query."""
    users = access.readers_of(target).exclude(pk=target.author_id).exclude(is_bot=True)
    if isinstance(target, ChatMessage):
        users = users.filter(mentioned_in_messages=target.pk)
    else:
        users = users.filter(mentioned_in_comments=target.pk)
    return list(users.order_by("pk"))


def _conversation_recipients(target: ChatMessage) -> list[User]:
    """Besides the mentioned: for a reply, the root's author and the earlier repliers; in a
    direct room, the other participants. Only people who can still read the room, never the
    author. (Issue 10.)"""
    # A webhook's bot (issue 15) reads the room but nobody reads its notifications.
    readers = access.readers_of(target).exclude(pk=target.author_id).exclude(is_bot=True)
    if target.chat_room.room_type == target.chat_room.RoomType.DIRECT:
        return list(readers.order_by("pk"))
    if target.parent_id is None:
        return []
    earlier = ChatMessage.objects.filter(parent_id=target.parent_id, pk__lt=target.pk)
    thread_people = set(earlier.values_list("author_id", flat=True))
    thread_people.add(
        ChatMessage.objects.filter(pk=target.parent_id).values_list("author_id", flat=True)[0]
    )
    return list(readers.filter(pk__in=thread_people).order_by("pk"))


def _task_people(target: TaskThreadComment) -> list[User]:
    """Issue 11: the creator and the assignee of the commented task, if they can still read
    it, never the comment's author."""
    people = {target.task.created_by_id, target.task.assignee_id} - {None, target.author_id}
    if not people:
        return []
    readers = access.readers_of(target).filter(pk__in=people)
    return list(readers.order_by("pk"))


def task_comment_text(target: TaskThreadComment) -> str:
    excerpt = _excerpt(target.content)
    return f'{target.author.username} commented on "{target.task.title}": "{excerpt}"'


def owes_task_comment_notifications(*, task: Task, author_id: int) -> bool:
    """Whether a new comment owes notifications beyond its mentions (no query)."""
    return bool({task.created_by_id, task.assignee_id} - {None, author_id})


def conversation_text(target: ChatMessage, kind: str) -> str:
    excerpt = _excerpt(target.content)
    if kind == Notification.Type.REPLY:
        return f'{target.author.username} replied in {target.chat_room}: "{excerpt}"'
    return f'{target.author.username} sent you a message: "{excerpt}"'


@transaction.atomic
def create_mention_notifications(*, kind: TargetKind, object_id: int) -> int:
    """Create the MENTION notifications owed for one chat message (`kind="chat_message"`) or
    task comment (`kind="comment"`), mark the target notified, and push each new notification
    to its recipient after commit. Idempotent: a second run (a redelivered task, the sweep
    racing the task) waits for the first's row lock, finds its notifications and creates and
    pushes nothing; the unique constraints per recipient and target back this up. Returns how
    many notifications were created. A constant number of queries, however many recipients."""
    target = _load_target(kind, object_id)
    if target is None:  # deleted before the task ran: nothing is owed
        return 0
    target_field = "chat_message" if isinstance(target, ChatMessage) else "task_thread_comment"
    already = set(
        Notification.objects.filter(**{target_field: target}).values_list("recipient_id", flat=True)
    )
    # One notification per person and target, whatever the reasons: a mention wins.
    owed: dict[int, tuple[User, str, str]] = {}
    if isinstance(target, ChatMessage) and not target.is_deleted:
        kind_ = (
            Notification.Type.DIRECT_MESSAGE
            if target.chat_room.room_type == target.chat_room.RoomType.DIRECT
            else Notification.Type.REPLY
        )
        text = conversation_text(target, kind_)
        for recipient in _conversation_recipients(target):
            owed[recipient.pk] = (recipient, kind_, text)
    if isinstance(target, TaskThreadComment) and not target.is_deleted:
        text = task_comment_text(target)
        for recipient in _task_people(target):
            owed[recipient.pk] = (recipient, Notification.Type.TASK_COMMENT, text)
    if not target.is_deleted:
        text = mention_text(target)
        for recipient in _recipients(target):
            owed[recipient.pk] = (recipient, Notification.Type.MENTION, text)
    created = Notification.objects.bulk_create(
        [
            Notification(
                recipient=recipient,
                sender=target.author,
                notification_type=kind_of,
                text=text_of,
                **{target_field: target},
            )
            for recipient, kind_of, text_of in owed.values()
            if recipient.pk not in already
        ]
    )
    type(target).objects.filter(pk=target.pk, mentions_notified_at__isnull=True).update(
        mentions_notified_at=timezone.now()
    )
    if created:
        metrics.mention_notifications_created(target.created_at, len(created))
        counts = unread_counts(n.recipient_id for n in created)
        realtime.push_to_users_on_commit(
            [
                (
                    n.recipient_id,
                    realtime.notification_payload(n, unread_count=counts[n.recipient_id]),
                )
                for n in created
            ]
        )
    return len(created)


# --- reading ----------------------------------------------------------------------------


def _push_unread_count_on_commit(user_id: int, count: int) -> None:
    realtime.push_to_user_on_commit(user_id, realtime.unread_count_payload(count))


def _mark_read(user: User, notifications) -> int:
    """Mark the user's unread notifications among `notifications` read; push the new count if
    anything changed. Returns the user's unread count afterwards."""
    changed = notifications.filter(recipient=user, is_read=False).update(is_read=True)
    count = unread_count(user.pk)
    if changed:
        _push_unread_count_on_commit(user.pk, count)
    return count


@transaction.atomic
def mark_notification_read(*, notification: Notification, user: User) -> int:
    """Mark one of the user's notifications read (someone else's is left alone). Returns the
    user's unread count afterwards."""
    return _mark_read(user, Notification.objects.filter(pk=notification.pk))


@transaction.atomic
def mark_all_read(*, user: User) -> int:
    return _mark_read(user, Notification.objects.all())


@transaction.atomic
def mark_read_for_room(*, user: User, room: ChatRoom) -> int:
    """Opening a room reads the user's notifications for messages in it (and of being added
    to it)."""
    return _mark_read(
        user, Notification.objects.filter(Q(chat_message__chat_room=room) | Q(chat_room=room))
    )


@transaction.atomic
def mark_read_up_to(*, user: User, room: ChatRoom, message_id: int) -> int:
    """The user read the room up to `message_id` (issue 11): their notifications for messages
    in it up to there are read too."""
    return _mark_read(
        user,
        Notification.objects.filter(chat_message__chat_room=room, chat_message_id__lte=message_id),
    )


@transaction.atomic
def mark_read_for_task(*, user: User, task: Task) -> int:
    """Opening a task's page reads the user's notifications for comments on it and its
    due-date reminders."""
    return _mark_read(
        user, Notification.objects.filter(Q(task_thread_comment__task=task) | Q(task=task))
    )


@transaction.atomic
def dismiss_notification(*, notification: Notification, user: User) -> int:
    """Remove one of the user's notifications from their list (issue 11). It is also read,
    so it leaves the count and is never e-mailed. Every open tab drops it after commit.
    Idempotent; returns the user's unread count afterwards."""
    changed = Notification.objects.filter(
        pk=notification.pk, recipient=user, dismissed_at__isnull=True
    ).update(dismissed_at=timezone.now(), is_read=True)
    count = unread_count(user.pk)
    if changed:
        realtime.push_to_user_on_commit(
            user.pk, realtime.notification_dismissed_payload(notification.pk, unread_count=count)
        )
    return count


# --- the sweep --------------------------------------------------------------------------


def sweep_missed_mentions(*, older_than_seconds: int = 30, limit: int = 500) -> int:
    """Create the notifications a dead broker or worker lost: for messages and comments older
    than the grace period whose `mentions_notified_at` is still NULL. Targets that mention
    nobody are marked notified (so they leave the queue); at most `limit` targets with
    mentions are processed per run, oldest first. Returns how many notifications it created."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=older_than_seconds)
    created = 0
    remaining = limit
    targets: list[tuple[TargetKind, type[ChatMessage] | type[TaskThreadComment]]] = [
        ("chat_message", ChatMessage),
        ("comment", TaskThreadComment),
    ]
    for kind, model in targets:
        through = model.mentioned_users.through
        owner_field = model.mentioned_users.field.m2m_field_name()
        has_mentions = Exists(through.objects.filter(**{owner_field: OuterRef("pk")}))
        if model is ChatMessage:  # replies and direct messages owe notifications too
            has_mentions = (
                has_mentions
                | Q(parent__isnull=False)
                | Q(chat_room__room_type=ChatRoom.RoomType.DIRECT)
            )
        else:  # comments on a task owe its creator and assignee (issue 11)
            has_mentions = (
                has_mentions
                | (Q(task__created_by__isnull=False) & ~Q(task__created_by=F("author")))
                | (Q(task__assignee__isnull=False) & ~Q(task__assignee=F("author")))
            )
        owed = model.objects.filter(mentions_notified_at__isnull=True, created_at__lt=cutoff)
        owed.filter(~has_mentions).update(mentions_notified_at=now)
        if remaining <= 0:
            continue
        ids = list(
            owed.filter(has_mentions).order_by("pk").values_list("pk", flat=True)[:remaining]
        )
        remaining -= len(ids)
        for object_id in ids:
            try:
                created += create_mention_notifications(kind=kind, object_id=object_id)
            except Exception:  # one bad row must not block the rest; it stays owed
                logger.exception("sweep: could not notify mentions of %s %s", kind, object_id)
    if created:
        logger.info("sweep created %d missed mention notification(s)", created)
    return created

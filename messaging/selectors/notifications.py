"""Notification reads, always scoped to their recipient."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db.models import Count, QuerySet
from django.http import Http404

from messaging.models import Notification

if TYPE_CHECKING:
    from accounts.models import User


def notifications_for(user: User) -> QuerySet[Notification]:
    """The user's notifications, newest first, with what a list row and its link need."""
    return Notification.objects.filter(recipient=user, dismissed_at__isnull=True).select_related(
        "sender", "chat_message", "task_thread_comment", "task", "board", "chat_room"
    )


def get_notification_for(user: User, notification_id: int) -> Notification:
    """The user's own notification; someone else's is as missing as a nonexistent one."""
    notification = Notification.objects.filter(pk=notification_id, recipient=user).first()
    if notification is None:
        raise Http404("No such notification.")
    return notification


def unread_count(user_id: int) -> int:
    return Notification.objects.filter(recipient_id=user_id, is_read=False).count()


def unread_counts(user_ids: Iterable[int]) -> dict[int, int]:
    """Unread counts for several users in one query (users with none map to 0)."""
    ids = list(user_ids)
    counts = dict.fromkeys(ids, 0)
    rows = (
        Notification.objects.filter(recipient_id__in=ids, is_read=False)
        .values("recipient_id")
        .annotate(n=Count("id"))
        .values_list("recipient_id", "n")
    )
    counts.update(rows)
    return counts

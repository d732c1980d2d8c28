"""Due-date reminders: the assignee of a task is notified the day before it is due and once
it is overdue, once each. The beat task (kanban.tasks.send_due_reminders) may run as often as
it likes: the DueReminder row per (task, kind, due date) is the receipt, and its unique
constraint turns a second run (or two workers at once) into a no-op. A task whose due date
moves earns new reminders for the new date.

Reminders are in-app notifications (messaging's Notification, pushed to the assignee's open
tabs after commit). One still unread after NOTIFICATION_EMAIL_DELAY_MINUTES is e-mailed by
issue 11's machinery (messaging.services.email), under the assignee's "Tasks assigned to you"
choice.
"""

from __future__ import annotations

import datetime
import logging

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from messaging import realtime
from messaging.models import Notification
from messaging.selectors.notifications import unread_count

from .models import DueReminder, Task

logger = logging.getLogger(__name__)

NOTIFICATION_TYPES = {
    DueReminder.Kind.DUE_SOON: Notification.Type.DUE_SOON,
    DueReminder.Kind.OVERDUE: Notification.Type.OVERDUE,
}


def reminder_text(task: Task, kind: str) -> str:
    board = task.column.board.name
    if kind == DueReminder.Kind.DUE_SOON:
        return f'"{task.title}" on {board} is due tomorrow.'
    return f'"{task.title}" on {board} is overdue (it was due {task.due_date:%a %d %b}).'


def _owed(kind: str, tasks):
    sent = DueReminder.objects.filter(task=OuterRef("pk"), kind=kind, due_date=OuterRef("due_date"))
    return (
        tasks.filter(assignee__isnull=False, assignee__is_active=True)
        .exclude(Exists(sent))
        .select_related("assignee", "column__board")
        .order_by("pk")
    )


def _remind(task: Task, kind: str) -> bool:
    """Record the reminder and notify the assignee, in one transaction; False if another run
    got there first."""
    try:
        with transaction.atomic():
            DueReminder.objects.create(
                task=task, kind=kind, due_date=task.due_date, recipient=task.assignee
            )
            notification = Notification.objects.create(
                recipient=task.assignee,
                notification_type=NOTIFICATION_TYPES[kind],
                text=reminder_text(task, kind),
                task=task,
            )
            realtime.push_to_user_on_commit(
                task.assignee_id,
                realtime.notification_payload(
                    notification, unread_count=unread_count(task.assignee_id)
                ),
            )
    except IntegrityError:
        return False
    return True


def send_due_reminders(*, today: datetime.date | None = None, limit: int = 1000) -> int:
    """Send the reminders owed on `today` (default: the local date): "due tomorrow" for tasks
    due on the next day, "overdue" for tasks due before today. Returns how many were sent."""
    today = today or timezone.localdate()
    sent = 0
    batches = [
        (DueReminder.Kind.DUE_SOON, Task.objects.filter(due_date=today + datetime.timedelta(1))),
        (DueReminder.Kind.OVERDUE, Task.objects.filter(due_date__lt=today)),
    ]
    for kind, tasks in batches:
        for task in _owed(kind, tasks)[:limit]:
            sent += _remind(task, kind)
    if sent:
        logger.info("sent %d due-date reminder(s)", sent)
    return sent

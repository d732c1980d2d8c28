"""Celery tasks of the kanban app: thin wrappers that call one service."""

from celery import shared_task

from . import reminders

# Beat runs this hourly; a run that waited longer than that is superseded by the next one.
REMINDERS_EXPIRES_SECONDS = 3000


@shared_task(acks_late=True, ignore_result=True, expires=REMINDERS_EXPIRES_SECONDS)
def send_due_reminders() -> int:
    """Notify assignees of tasks due tomorrow or overdue, once each (idempotent)."""
    return reminders.send_due_reminders()

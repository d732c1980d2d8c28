"""Celery tasks: thin wrappers that take ids and call one service."""

from celery import shared_task

from messaging.services import notifications


@shared_task(acks_late=True, ignore_result=True)
def notify_mentions(kind: str, object_id: int) -> int:
    """Create the MENTION notifications owed for one chat message or comment (idempotent)."""
    return notifications.create_mention_notifications(kind=kind, object_id=object_id)

"""Celery tasks: thin wrappers that take ids and call one service."""

from celery import shared_task

from messaging.services import notifications

# A sweep that waited this long in the queue is superseded by the next one (beat runs every
# SWEEP_INTERVAL_SECONDS); dropping it keeps a backlog from piling up behind a dead worker.
SWEEP_EXPIRES_SECONDS = 55


@shared_task(acks_late=True, ignore_result=True)
def notify_mentions(kind: str, object_id: int) -> int:
    """Create the MENTION notifications owed for one chat message or comment (idempotent)."""
    return notifications.create_mention_notifications(kind=kind, object_id=object_id)


@shared_task(acks_late=True, ignore_result=True, expires=SWEEP_EXPIRES_SECONDS)
def sweep_missed_mentions(older_than_seconds: int = 30, limit: int = 500) -> int:
    """Create the mention notifications a dead broker or worker lost (Celery beat, every 60 s)."""
    return notifications.sweep_missed_mentions(older_than_seconds=older_than_seconds, limit=limit)

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


# --- Issue 12: attachments ---------------------------------------------------------------


@shared_task(acks_late=True, ignore_result=True)
def make_attachment_previews(attachment_id: int) -> str:
    """Re-encode an uploaded image and make its thumbnail; then `attachment_ready`."""
    from messaging.services import attachments

    return attachments.make_previews(attachment_id)


@shared_task(acks_late=True, ignore_result=True)
def delete_doomed_files(ids: list[int]) -> int:
    """Delete from storage the files of rows already gone (failures wait for the sweep)."""
    from messaging.services import attachments

    return attachments.delete_doomed(ids)


@shared_task(acks_late=True, ignore_result=True, expires=3000)
def sweep_attachments() -> dict:
    """Beat, hourly: unsent uploads older than 24 h go; failed deletions are retried."""
    from messaging.services import attachments

    return attachments.sweep_attachments()

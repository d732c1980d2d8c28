"""Celery tasks: thin wrappers that take ids and call one service.

Every task is time-limited. At the soft limit the service's transaction rolls back and the
task logs and returns: the message stays `mentions_notified_at IS NULL`, so the periodic
sweep (settings.CELERY_BEAT_SCHEDULE) creates its notifications later. The hard limit kills a
task that ignores the soft one.
"""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from messaging.services import notifications

logger = logging.getLogger(__name__)

# A sweep that waited this long in the queue is superseded by the next one (beat runs every
# SWEEP_INTERVAL_SECONDS); dropping it keeps a backlog from piling up behind a dead worker.
SWEEP_EXPIRES_SECONDS = 55
# Seconds. One target's notifications take milliseconds; a sweep of 500 targets well under a
# second. The sweep must end before the next one is due (60 s).
NOTIFY_SOFT_LIMIT, NOTIFY_HARD_LIMIT = 20, 30
SWEEP_SOFT_LIMIT, SWEEP_HARD_LIMIT = 40, 50


@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=NOTIFY_SOFT_LIMIT,
    time_limit=NOTIFY_HARD_LIMIT,
)
def notify_mentions(kind: str, object_id: int) -> int:
    """Create the MENTION notifications owed for one chat message or comment (idempotent)."""
    try:
        return notifications.create_mention_notifications(kind=kind, object_id=object_id)
    except SoftTimeLimitExceeded:
        logger.warning(
            "notify_mentions(%s, %s) hit its %ss soft limit; the sweep will create them",
            kind,
            object_id,
            NOTIFY_SOFT_LIMIT,
        )
        return 0


@shared_task(
    acks_late=True,
    ignore_result=True,
    expires=SWEEP_EXPIRES_SECONDS,
    soft_time_limit=SWEEP_SOFT_LIMIT,
    time_limit=SWEEP_HARD_LIMIT,
)
def sweep_missed_mentions(older_than_seconds: int = 30, limit: int = 500) -> int:
    """Create the mention notifications a dead broker or worker lost (Celery beat, every 60 s)."""
    try:
        return notifications.sweep_missed_mentions(
            older_than_seconds=older_than_seconds, limit=limit
        )
    except SoftTimeLimitExceeded:
        logger.warning(
            "sweep_missed_mentions hit its %ss soft limit; the next sweep continues",
            SWEEP_SOFT_LIMIT,
        )
        return 0


# --- Issue 12: attachments ---------------------------------------------------------------


# Seconds: Pillow on an image within ATTACHMENT_MAX_IMAGE_PIXELS takes well under this.
PREVIEW_SOFT_LIMIT, PREVIEW_HARD_LIMIT = 60, 90


@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=PREVIEW_SOFT_LIMIT,
    time_limit=PREVIEW_HARD_LIMIT,
)
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


# --- Issue 11: activity notifications and e-mail to people who are away -------------------


@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=NOTIFY_SOFT_LIMIT,
    time_limit=NOTIFY_HARD_LIMIT,
)
def notify_activity(kind: str, recipient_id: int, actor_id: int, target_id: int, key: str) -> int:
    """Create one activity notification (idempotent per event and recipient)."""
    from messaging.services import activity

    created = activity.create_activity_notification(
        kind=kind, recipient_id=recipient_id, actor_id=actor_id, target_id=target_id, key=key
    )
    return int(created is not None)


# A run that waited longer than the beat interval is superseded by the next one.
EMAIL_EXPIRES_SECONDS = 55
EMAIL_SOFT_LIMIT, EMAIL_HARD_LIMIT = 45, 55


@shared_task(
    acks_late=True,
    ignore_result=True,
    expires=EMAIL_EXPIRES_SECONDS,
    soft_time_limit=EMAIL_SOFT_LIMIT,
    time_limit=EMAIL_HARD_LIMIT,
)
def send_notification_emails() -> int:
    """Beat, every minute: e-mail what people have not read (at most once each)."""
    from messaging.services import email

    return email.send_notification_emails()

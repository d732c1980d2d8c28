"""Mention notifications: scheduling (called by the posting services) and creation (the
Celery task's body). Delivery of a message never waits on this: a message reaches its room at
once; notifications follow through Celery, and the periodic sweep creates any that a dead
broker or worker lost."""

from __future__ import annotations

import logging
from typing import Literal

from django.db import transaction

logger = logging.getLogger(__name__)

TargetKind = Literal["chat_message", "comment"]


def schedule_mention_notifications(*, kind: TargetKind, object_id: int) -> None:
    """After commit, queue the Celery task that notifies the users mentioned in a chat message
    or comment. A broker failure is logged and swallowed: the object keeps
    `mentions_notified_at = NULL`, so `sweep_missed_mentions` creates them later."""

    def enqueue() -> None:
        from messaging.tasks import notify_mentions

        try:
            notify_mentions.apply_async(args=[kind, object_id], retry=False)
        except Exception:  # noqa: BLE001 - broker down or unreachable: the sweep catches up
            logger.warning("could not queue mention notifications for %s %s", kind, object_id)

    transaction.on_commit(enqueue, robust=True)

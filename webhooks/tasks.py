"""Celery tasks for outgoing webhooks: thin wrappers taking ids (webhooks.delivery does the work).

Retries: a failed attempt leaves its delivery due again after the backoff. With a worker the
next attempt is queued with that countdown; in the embedded mode (eager Celery, no worker and
no beat) a countdown would run at once, so a daemon timer in the process runs the due
deliveries instead. Either way the periodic `retry_due_deliveries` (beat, every 30 s) makes
any due attempt a lost task or a restart left behind.
"""

from __future__ import annotations

import datetime
import logging
import threading

from celery import shared_task
from django.db import close_old_connections, connections
from django.utils import timezone

from . import delivery

logger = logging.getLogger(__name__)

# Seconds: an attempt is bounded by WEBHOOK_TIMEOUT_SECONDS (connect and read).
DELIVER_SOFT_LIMIT, DELIVER_HARD_LIMIT = 30, 40
SWEEP_SOFT_LIMIT, SWEEP_HARD_LIMIT = 20, 25


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def fan_out_event(
    board_id: int, event: str, object_id: int, actor_id: int | None, extra: dict
) -> int:
    """Create the deliveries of one board event (webhooks.events.emit_on_commit queues it)."""
    return delivery.fan_out(
        board_id=board_id, event=event, object_id=object_id, actor_id=actor_id, extra=extra
    )


@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=DELIVER_SOFT_LIMIT,
    time_limit=DELIVER_HARD_LIMIT,
)
def deliver_webhook(delivery_pk: int) -> bool:
    """Make the next attempt of one delivery; schedule the one after if it failed."""
    outcome = delivery.attempt_delivery(delivery_pk)
    if outcome.retry_in is not None:
        schedule_retry(delivery_pk, outcome.retry_in)
    return outcome.delivered


@shared_task(
    acks_late=True,
    ignore_result=True,
    expires=25,
    soft_time_limit=SWEEP_SOFT_LIMIT,
    time_limit=SWEEP_HARD_LIMIT,
)
def retry_due_deliveries() -> int:
    """Beat: queue one `deliver_webhook` per due delivery (each attempt claims its row, so a
    delivery queued twice is still sent once per attempt). Returns how many were queued."""
    due = delivery.due_deliveries(now=timezone.now())
    for pk in due:
        deliver_webhook.delay(pk)
    return len(due)


def deliver_due(*, now: datetime.datetime | None = None, limit: int = 100) -> int:
    """Attempt every delivery due at `now` (default: now), here and one after another (the
    embedded mode's timer; tests). Returns how many were attempted."""
    now = now or timezone.now()
    attempted = 0
    for pk in delivery.due_deliveries(now=now, limit=limit):
        outcome = delivery.attempt_delivery(pk, now=now)
        attempted += outcome.attempted
        if outcome.retry_in is not None:
            schedule_retry(pk, outcome.retry_in)
    return attempted


def schedule_retry(delivery_pk: int, seconds: float) -> None:
    if not deliver_webhook.app.conf.task_always_eager:
        deliver_webhook.apply_async((delivery_pk,), countdown=seconds)
        return
    timer = threading.Timer(seconds, _deliver_due_in_thread)
    timer.daemon = True
    with _timers_lock:
        _timers[:] = [t for t in _timers if t.is_alive()]
        _timers.append(timer)
    timer.start()


_timers: list[threading.Timer] = []
_timers_lock = threading.Lock()


def cancel_retry_timers() -> None:
    """Stop the embedded mode's pending retry timers (tests, between databases)."""
    with _timers_lock:
        for timer in _timers:
            timer.cancel()
        _timers.clear()


def _deliver_due_in_thread() -> None:
    """The embedded mode's retry: runs on a timer thread with its own DB connection."""
    close_old_connections()
    try:
        deliver_due()
    except Exception:
        logger.exception("webhook retries failed; the next timer or sweep tries again")
    finally:
        connections.close_all()

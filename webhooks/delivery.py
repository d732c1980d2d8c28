"""Delivering outgoing webhooks: one `WebhookDelivery` row per event and webhook, attempted
until a 2xx answer or WEBHOOK_MAX_ATTEMPTS, with exponential backoff between attempts.

At least once: the row is written before the first attempt, every attempt claims it with a
conditional UPDATE (so two runners never send the same attempt at once) and leaves it due
again after a lease, so an attempt lost with its worker is made again by the periodic sweep
(`deliver_due`). Receivers de-duplicate on the delivery id, which every attempt repeats.
"""

from __future__ import annotations

import datetime
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from kanban.models import Board, Task
from messaging.models import ChatMessage, TaskThreadComment

from . import sender, signing, ssrf
from .models import Event, OutgoingWebhook, WebhookDelivery

logger = logging.getLogger(__name__)

# An attempt in progress holds its row this long beyond the request timeout; after that a
# runner that died mid-attempt has its row picked up again.
LEASE_EXTRA_SECONDS = 60


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.get_display_name(),
        "is_bot": user.is_bot,
    }


def _task(task: Task) -> dict[str, Any]:
    return {
        "id": task.pk,
        "title": task.title,
        "column": {"id": task.column_id, "name": task.column.name},
        "assignee": _person(task.assignee),
        "priority": task.priority,
        "due_date": task.due_date.isoformat() if task.due_date else None,
        "path": reverse("kanban:task_detail", args=[task.pk]),
    }


def event_data(
    *, board: Board, event: str, object_id: int, actor_id: int | None, extra: dict
) -> dict[str, Any] | None:
    """The body's `data` for an event, read now; None if its object is gone."""
    data: dict[str, Any] = {"board": {"id": board.pk, "name": board.name}}
    if actor_id is not None:
        data["actor"] = _person(User.objects.filter(pk=actor_id).first())
    if event in (Event.TASK_CREATED, Event.TASK_MOVED, Event.TASK_ASSIGNED):
        task = Task.objects.select_related("column", "assignee").filter(pk=object_id).first()
        if task is None:
            return None
        data["task"] = _task(task)
    elif event == Event.MESSAGE_POSTED:
        message = (
            ChatMessage.objects.select_related("author", "chat_room")
            .filter(pk=object_id, is_deleted=False)
            .first()
        )
        if message is None:
            return None
        data["room"] = {"id": message.chat_room_id, "name": message.chat_room.name}
        data["message"] = {
            "id": message.pk,
            "text": message.content,
            "author": _person(message.author),
            "parent_id": message.parent_id,
            "created_at": _iso(message.created_at),
            "path": f"{message.chat_room.get_absolute_url()}#message-{message.pk}",
        }
    elif event == Event.COMMENT_ADDED:
        comment = (
            TaskThreadComment.objects.select_related("author", "task__column", "task__assignee")
            .filter(pk=object_id, is_deleted=False)
            .first()
        )
        if comment is None:
            return None
        data["task"] = _task(comment.task)
        data["comment"] = {
            "id": comment.pk,
            "text": comment.content,
            "author": _person(comment.author),
            "created_at": _iso(comment.created_at),
        }
    data.update(extra)
    return data


def queue_delivery(*, webhook: OutgoingWebhook, event: str, data: dict) -> WebhookDelivery:
    """Record a delivery and send its first attempt after commit."""
    from .tasks import deliver_webhook

    delivery = WebhookDelivery.objects.create(
        webhook=webhook, event=event, payload=data, next_attempt_at=timezone.now()
    )
    transaction.on_commit(lambda: deliver_webhook.delay(delivery.pk), robust=True)
    return delivery


@transaction.atomic
def fan_out(*, board_id: int, event: str, object_id: int, actor_id: int | None, extra: dict) -> int:
    """One delivery per active webhook of the board subscribed to `event`. Returns how many."""
    board = Board.objects.filter(pk=board_id).first()
    if board is None:
        return 0
    hooks = [
        hook
        for hook in OutgoingWebhook.objects.filter(board=board, active=True)
        if event in hook.events
    ]
    if not hooks:
        return 0
    data = event_data(board=board, event=event, object_id=object_id, actor_id=actor_id, extra=extra)
    if data is None:
        return 0
    for hook in hooks:
        queue_delivery(webhook=hook, event=event, data=data)
    return len(hooks)


def body_of(delivery: WebhookDelivery) -> bytes:
    """The exact bytes every attempt sends (and signs)."""
    return json.dumps(
        {
            "id": str(delivery.delivery_id),
            "event": delivery.event,
            "created_at": _iso(delivery.created_at),
            "data": delivery.payload,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


def backoff_seconds(attempt: int) -> float:
    """How long after failed attempt `attempt` (1-based) the next one is due."""
    return settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1)


@dataclass(frozen=True)
class Outcome:
    attempted: bool
    delivered: bool = False
    retry_in: float | None = None  # seconds until the next attempt, if one is owed


def attempt_delivery(delivery_pk: int, *, now: datetime.datetime | None = None) -> Outcome:
    """Make the next attempt of a delivery that is due; record what the receiver answered."""
    now = now or timezone.now()
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_pk).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return Outcome(attempted=False)
    lease = now + datetime.timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + LEASE_EXTRA_SECONDS)
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk,
        status=WebhookDelivery.Status.PENDING,
        attempts=delivery.attempts,
        next_attempt_at__lte=now + datetime.timedelta(seconds=5),  # early countdowns too
    ).update(attempts=F("attempts") + 1, last_attempt_at=now, next_attempt_at=lease)
    if not claimed:
        return Outcome(attempted=False)
    attempt = delivery.attempts + 1
    webhook = delivery.webhook

    body = body_of(delivery)
    try:
        target = ssrf.resolve(webhook.url)
    except ssrf.UnsafeURL as exc:
        response = sender.Response(status_code=None, error=str(exc)[:300])
    else:
        response = sender.post(
            target,
            body=body,
            headers={
                "X-TaskFlow-Event": delivery.event,
                "X-TaskFlow-Delivery": str(delivery.delivery_id),
                "X-TaskFlow-Attempt": str(attempt),
                "X-TaskFlow-Signature": signing.signature_header(secret=webhook.secret, body=body),
            },
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        )
    finished = timezone.now()
    fields: dict[str, Any] = {"status_code": response.status_code, "error": response.error}
    if response.ok:
        fields.update(
            status=WebhookDelivery.Status.DELIVERED, delivered_at=finished, next_attempt_at=None
        )
        outcome = Outcome(attempted=True, delivered=True)
    elif attempt >= settings.WEBHOOK_MAX_ATTEMPTS:
        fields.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
        outcome = Outcome(attempted=True)
    else:
        delay = backoff_seconds(attempt)
        fields["next_attempt_at"] = now + datetime.timedelta(seconds=delay)
        outcome = Outcome(attempted=True, retry_in=delay)
    if not response.ok and not response.error:
        fields["error"] = f"HTTP {response.status_code}"
    fields["history"] = [
        *delivery.history,
        {"at": _iso(now), "status_code": response.status_code, "error": fields["error"]},
    ]
    WebhookDelivery.objects.filter(pk=delivery.pk, attempts=attempt).update(**fields)
    logger.info(
        "webhook delivery %s attempt %s: %s",
        delivery.delivery_id,
        attempt,
        response.status_code or response.error,
    )
    return outcome


def due_deliveries(*, now: datetime.datetime, limit: int = 100) -> list[int]:
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )

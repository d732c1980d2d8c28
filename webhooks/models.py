"""Webhooks (issue 15).

- `IncomingWebhook`: a secret URL that posts into one room as the webhook's bot user. Only a
  SHA-256 of the secret is stored; rotating it replaces the hash, so the old URL stops working.
- `OutgoingWebhook`: a URL of a board's that receives the events it subscribes to, signed
  with its `secret` (kept in clear: the signature needs it).
- `WebhookDelivery`: one event for one outgoing webhook, with the same `delivery_id` across
  its attempts (receivers de-duplicate on it) and the outcome of the last attempt.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Event(models.TextChoices):
    TASK_CREATED = "task.created", "Task created"
    TASK_MOVED = "task.moved", "Task moved"
    TASK_ASSIGNED = "task.assigned", "Task assigned"
    MESSAGE_POSTED = "message.posted", "Message posted in a room"
    COMMENT_ADDED = "comment.added", "Comment added"


class IncomingWebhook(models.Model):
    room = models.ForeignKey(
        "messaging.ChatRoom", on_delete=models.CASCADE, related_name="incoming_webhooks"
    )
    name = models.CharField(max_length=80)
    # The identity its posts carry (User.is_bot); kept after revoking, for the old messages.
    bot = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="incoming_webhook"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="incoming_webhooks_created",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["room", "name", "id"]

    def __str__(self) -> str:
        return f"{self.name} (#{self.room_id})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class OutgoingWebhook(models.Model):
    board = models.ForeignKey(
        "kanban.Board", on_delete=models.CASCADE, related_name="outgoing_webhooks"
    )
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)  # Event values
    secret = models.CharField(max_length=80)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="outgoing_webhooks_created",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["board", "id"]

    def __str__(self) -> str:
        return self.url

    def event_labels(self) -> list[str]:
        return [Event(e).label for e in self.events if e in Event.values]


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # waiting for its next attempt
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"  # gave up after WEBHOOK_MAX_ATTEMPTS

    webhook = models.ForeignKey(
        OutgoingWebhook, on_delete=models.CASCADE, related_name="deliveries"
    )
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(max_length=40)  # an Event value or "ping"
    payload = models.JSONField()  # the body's "data"
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)  # of the last attempt
    error = models.CharField(max_length=300, blank=True)  # of the last attempt
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Every attempt: {"at": iso time, "status_code": int | None, "error": str}.
    history = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id}"

    def status_codes(self) -> list[str]:
        """What each attempt got, for the log: "500", "200", "error"."""
        return [str(h.get("status_code") or "error") for h in self.history]

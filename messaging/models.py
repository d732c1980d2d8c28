"""Messaging data. Model and field names follow the original design (shared/seeds)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse

from kanban.models import Board, Task


class TaskThreadComment(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="thread_comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="task_comments"
    )
    content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    mentioned_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in_comments"
    )
    # Set by the sender so a retried send never creates a second row.
    client_id = models.CharField(max_length=64, blank=True, default="")
    # When mention notifications were created; null while they are still owed (the sweep's queue).
    mentions_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["task", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "author", "client_id"],
                condition=~Q(client_id=""),
                name="uniq_comment_client_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.author} on {self.task}: {self.content[:40]}"

    def get_absolute_url(self) -> str:
        return f"{reverse('kanban:task_detail', args=[self.task_id])}#comment-{self.pk}"


class ChatRoom(models.Model):
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="chat_rooms")
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="chat_rooms_created"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="chat_rooms")

    class Meta:
        ordering = ["board", "name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "board", name="uniq_room_name_per_board"),
        ]

    def __str__(self) -> str:
        return f"#{self.name}"

    def get_absolute_url(self) -> str:
        return reverse("messaging:room_detail", args=[self.pk])


class ChatMessage(models.Model):
    chat_room = models.ForeignKey(ChatRoom, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages"
    )
    content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    mentioned_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in_messages"
    )
    client_id = models.CharField(max_length=64, blank=True, default="")
    mentions_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["chat_room", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["chat_room", "author", "client_id"],
                condition=~Q(client_id=""),
                name="uniq_message_client_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.author} in {self.chat_room}: {self.content[:40]}"

    def get_absolute_url(self) -> str:
        return f"{reverse('messaging:room_detail', args=[self.chat_room_id])}#message-{self.pk}"


class Notification(models.Model):
    class Type(models.TextChoices):
        MENTION = "mention", "Mention"
        # Due-date reminders (kanban.reminders), linked to their task.
        DUE_SOON = "due_soon", "Due tomorrow"
        OVERDUE = "overdue", "Overdue"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications_sent",
        null=True,
        blank=True,
    )
    notification_type = models.CharField(max_length=20, choices=Type.choices, default=Type.MENTION)
    text = models.TextField()
    task_thread_comment = models.ForeignKey(
        TaskThreadComment,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    chat_message = models.ForeignKey(
        ChatMessage, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    is_read = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "is_read", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "chat_message"],
                condition=Q(chat_message__isnull=False),
                name="uniq_notification_per_message",
            ),
            models.UniqueConstraint(
                fields=["recipient", "task_thread_comment"],
                condition=Q(task_thread_comment__isnull=False),
                name="uniq_notification_per_comment",
            ),
        ]

    def __str__(self) -> str:
        return f"to {self.recipient}: {self.text[:40]}"

    def get_absolute_url(self) -> str:
        target = self.chat_message or self.task_thread_comment or self.task
        return target.get_absolute_url() if target else reverse("messaging:notifications")


class UserTypingStatus(models.Model):
    """Who typed last in a room and when; a row older than TYPING_EXPIRY_SECONDS is stale."""

    chat_room = models.ForeignKey(ChatRoom, on_delete=models.CASCADE, related_name="typing")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="typing_statuses"
    )
    last_update = models.DateTimeField()

    class Meta:
        verbose_name_plural = "user typing statuses"
        constraints = [
            models.UniqueConstraint(fields=["chat_room", "user"], name="uniq_typing_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} typing in {self.chat_room}"

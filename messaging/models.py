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
    # Issue 10: the Markdown rendered (and cleaned) once when the text was saved or edited.
    html = models.TextField(blank=True, default="")
    is_edited = models.BooleanField(default=False)
    edited_at = models.DateTimeField(null=True, blank=True)
    # Soft delete: the text and html are emptied; the row stays as a tombstone.
    is_deleted = models.BooleanField(default=False)
    # The task's change sequence when this row last changed (posted, edited, deleted, reacted):
    # `history/?since=<seq>` returns every row changed after a sequence a client has seen.
    seq = models.PositiveBigIntegerField(default=0)
    # Issue 12: files sent with the comment.
    attachments = models.ManyToManyField("Attachment", blank=True, related_name="comments")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["task", "created_at"]),
            models.Index(fields=["task", "seq"]),
        ]
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
    class RoomType(models.TextChoices):
        GROUP = "group", "Group"
        DIRECT = "direct", "Direct"

    room_type = models.CharField(max_length=10, choices=RoomType.choices, default=RoomType.GROUP)
    # A group room belongs to a board; a direct room has none and belongs to an organization
    # (issue 10), whose members alone can be its participants.
    board = models.ForeignKey(
        Board, on_delete=models.CASCADE, related_name="chat_rooms", null=True, blank=True
    )
    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="chat_rooms",
        null=True,
        blank=True,
    )
    # Direct rooms: the participants' ids, sorted and comma-joined. Unique, so the same set
    # of people always gets the same room, even when two requests race to create it.
    direct_key = models.CharField(max_length=100, blank=True, default="")
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="chat_rooms_created"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="chat_rooms")
    # The room's change counter: the `seq` its latest change got (messaging.services.changes).
    last_seq = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["board", "name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "board", name="uniq_room_name_per_board"),
            models.UniqueConstraint(
                fields=["direct_key"],
                condition=Q(room_type="direct"),
                name="uniq_direct_room_per_people",
            ),
            models.CheckConstraint(
                condition=(Q(room_type="group") & Q(board__isnull=False))
                | (Q(room_type="direct") & Q(organization__isnull=False) & ~Q(direct_key="")),
                name="room_type_scope",
            ),
        ]

    def __str__(self) -> str:
        return self.name if self.is_direct else f"#{self.name}"

    def get_absolute_url(self) -> str:
        return reverse("messaging:room_detail", args=[self.pk])

    @property
    def is_direct(self) -> bool:
        return self.room_type == self.RoomType.DIRECT

    @property
    def participant_ids(self) -> list[int]:
        """A direct room's participants, from its `direct_key` (empty for a group room)."""
        return [int(i) for i in self.direct_key.split(",") if i] if self.is_direct else []


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
    # Issue 10. A reply's parent is always a top-level message of the same room (one level).
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    reply_count = models.PositiveIntegerField(default=0)
    last_reply_at = models.DateTimeField(null=True, blank=True)
    html = models.TextField(blank=True, default="")
    is_edited = models.BooleanField(default=False)
    edited_at = models.DateTimeField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False)
    # The room's change sequence when this row last changed (see TaskThreadComment.seq).
    seq = models.PositiveBigIntegerField(default=0)
    # Issue 12: files sent with the message (the seed's M2M to FileStorage).
    attachments = models.ManyToManyField("Attachment", blank=True, related_name="chat_messages")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["chat_room", "created_at"]),
            models.Index(fields=["chat_room", "seq"]),
            models.Index(fields=["parent", "id"]),
        ]
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
        REPLY = "reply", "Reply"
        DIRECT_MESSAGE = "direct_message", "Direct message"
        # Issue 11: activity (messaging.services.activity).
        TASK_ASSIGNED = "task_assigned", "Task assigned"
        TASK_COMMENT = "task_comment", "Comment on your task"
        BOARD_INVITE = "board_invite", "Added to a board"
        ROOM_INVITE = "room_invite", "Added to a room"

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
    # Issue 11: board and room invitations point at what the person was added to.
    board = models.ForeignKey(
        Board, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    chat_room = models.ForeignKey(
        ChatRoom, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    # The event an activity notification is about ("task_assigned:<activity id>"); with the
    # recipient it is unique, so a redelivered task creates nothing twice. Empty for the rest
    # (their own constraints below key them by message or comment).
    event_key = models.CharField(max_length=80, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    is_read = models.BooleanField(default=False)
    # Dismissed: gone from the list (and read). Kept as a row so a redelivered task cannot
    # bring it back.
    dismissed_at = models.DateTimeField(null=True, blank=True)
    # E-mail (messaging.services.email): claimed by one sending run before it sends, so it is
    # e-mailed at most once; `emailed_at` once the mail server took it.
    email_claimed_at = models.DateTimeField(null=True, blank=True)
    email_claim = models.CharField(max_length=32, blank=True, default="")
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "is_read", "created_at"]),
            # The e-mail run's scan: unread, unclaimed notifications by age.
            models.Index(
                fields=["created_at"],
                condition=Q(is_read=False, email_claimed_at__isnull=True),
                name="notification_email_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "event_key"],
                condition=~Q(event_key=""),
                name="uniq_notification_per_event",
            ),
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
        target = (
            self.chat_message
            or self.task_thread_comment
            or self.task
            or self.chat_room
            or self.board
        )
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


class ChatMessageEdit(models.Model):
    """An earlier version of an edited message: the text (and html) it had until `replaced_at`."""

    message = models.ForeignKey(ChatMessage, on_delete=models.CASCADE, related_name="edits")
    content = models.TextField()
    html = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()  # when this version was written
    replaced_at = models.DateTimeField()

    class Meta:
        ordering = ["message", "id"]

    def __str__(self) -> str:
        return f"version of {self.message_id} until {self.replaced_at:%Y-%m-%d %H:%M}"


class TaskThreadCommentEdit(models.Model):
    """An earlier version of an edited comment."""

    comment = models.ForeignKey(TaskThreadComment, on_delete=models.CASCADE, related_name="edits")
    content = models.TextField()
    html = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    replaced_at = models.DateTimeField()

    class Meta:
        ordering = ["comment", "id"]

    def __str__(self) -> str:
        return f"version of {self.comment_id} until {self.replaced_at:%Y-%m-%d %H:%M}"


class Reaction(models.Model):
    """One person's emoji on one message or comment (exactly one of the two is set)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reactions"
    )
    emoji = models.CharField(max_length=32)
    chat_message = models.ForeignKey(
        ChatMessage, on_delete=models.CASCADE, null=True, blank=True, related_name="reactions"
    )
    task_thread_comment = models.ForeignKey(
        TaskThreadComment,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reactions",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(chat_message__isnull=True) ^ Q(task_thread_comment__isnull=True),
                name="reaction_one_target",
            ),
            models.UniqueConstraint(
                fields=["chat_message", "user", "emoji"],
                condition=Q(chat_message__isnull=False),
                name="uniq_reaction_per_message",
            ),
            models.UniqueConstraint(
                fields=["task_thread_comment", "user", "emoji"],
                condition=Q(task_thread_comment__isnull=False),
                name="uniq_reaction_per_comment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.emoji}"


# --- Issue 12: files in conversations ------------------------------------------------------


class Attachment(models.Model):
    """An uploaded file (the seed's FileStorage). The original bytes live in `file` under a
    random key and are only ever served as a download; `image` is the re-encoded copy of a
    raster image that Pillow opened (the only thing served inline) and `thumbnail` its small
    version. Both are made by a Celery task (messaging.services.attachments)."""

    class Preview(models.TextChoices):
        NONE = "none", "Not an image"
        PENDING = "pending", "Being made"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    file = models.FileField(max_length=255)
    name = models.CharField(max_length=255)  # the cleaned original name
    content_type = models.CharField(max_length=100)  # sniffed from the bytes
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attachments"
    )
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="attachments"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When a message or comment took it; null while it waits (the sweep's queue after 24 h).
    attached_at = models.DateTimeField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    preview = models.CharField(max_length=10, choices=Preview.choices, default=Preview.NONE)
    image = models.FileField(max_length=255, blank=True, default="")
    thumbnail = models.FileField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["attached_at", "created_at"]),
            models.Index(fields=["organization"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.size} bytes)"

    def get_absolute_url(self) -> str:
        return reverse("messaging:attachment_download", args=[self.pk])


class DoomedFile(models.Model):
    """A stored object whose row is gone and which must still be deleted from storage.
    Written in the transaction that drops the row; deleted from storage after commit; what
    failed stays here for the periodic sweep to retry."""

    key = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.key


# --- Issue 11: unread per room -------------------------------------------------------------


class RoomReadState(models.Model):
    """How far one person has read one room, and whether they muted it. No row means nothing
    read and not muted. `last_read_message_id` only ever grows (services.read_state)."""

    room = models.ForeignKey(ChatRoom, on_delete=models.CASCADE, related_name="read_states")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="room_read_states"
    )
    # A message id, not a foreign key: the pointer stays put when that message is deleted.
    last_read_message_id = models.PositiveBigIntegerField(default=0)
    muted = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["room", "user"]
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="uniq_read_state_per_user")
        ]
        indexes = [models.Index(fields=["user", "room"])]

    def __str__(self) -> str:
        return f"{self.user} read {self.room} up to {self.last_read_message_id}"

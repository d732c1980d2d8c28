"""The search index: one row per searchable thing (a chat message, a task comment, a task).

Rows are written by `search.services` in the same transaction as the change they index, and
carry what the filters and the access rule need (room, task, board, author, time), so a search
is one query over this table. The text index itself is engine-specific and lives outside the
model: on PostgreSQL the `search_vector` column (a stored tsvector with a GIN index), on SQLite
an FTS5 table `search_fts` kept in step by triggers (see migration 0002).

The foreign keys cascade: however a message, comment, task, room or board is deleted (a
service, the admin, a board deletion), its rows leave the index with it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models


class SearchDocument(models.Model):
    class Kind(models.TextChoices):
        MESSAGE = "message", "Message"
        COMMENT = "comment", "Comment"
        TASK = "task", "Task"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The id of the message, comment or task (the same as whichever FK below is set).
    object_id = models.BigIntegerField()
    message = models.ForeignKey(
        "messaging.ChatMessage", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    comment = models.ForeignKey(
        "messaging.TaskThreadComment",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    # Messages: their room. Comments and tasks: null.
    room = models.ForeignKey(
        "messaging.ChatRoom", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # Comments: their task. Tasks: themselves. Messages: null.
    task = models.ForeignKey(
        "kanban.Task", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # The board it belongs to (a message's room's board; null for a room without a board).
    board = models.ForeignKey(
        "kanban.Board",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # search_board_created leads with it
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # search_author_created leads with it
    )
    created_at = models.DateTimeField()
    text = models.TextField()
    # No attachments exist yet; the files issue sets this when they do (has:attachment).
    has_attachments = models.BooleanField(default=False)
    indexed_at = models.DateTimeField()
    # PostgreSQL only (written by the index services with SEARCH_LANGUAGE); unused on SQLite.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="uniq_search_document"),
        ]
        # Newest-first pages read these backwards in exactly the result order (time, then id),
        # stopping after one page: "from:@bob", "in:#general", "after:..." on their own.
        indexes = [
            models.Index(fields=["room", "created_at", "id"], name="search_room_created"),
            models.Index(fields=["board", "created_at", "id"], name="search_board_created"),
            models.Index(fields=["author", "created_at", "id"], name="search_author_created"),
            models.Index(fields=["created_at", "id"], name="search_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}: {self.text[:40]}"

"""Rebuilding the whole index (`manage.py reindex_search`), safe while people post.

Every message, comment and task is re-written in id order, in batches, each batch in its own
transaction with its source rows locked (`FOR NO KEY UPDATE` on PostgreSQL; SQLite serializes
writers anyway): an edit running at the same moment either commits before the batch reads the
row (the batch writes the new text) or waits for the batch and then re-indexes its own new
text, so the rebuild never puts old words back. Posts made during the rebuild index
themselves. Rows the rebuild did not write and nobody re-indexed since it started belong to
things that are gone (or deleted) and are removed at the end.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from kanban.models import Task
from messaging.models import ChatMessage, TaskThreadComment

from . import engine, services
from .models import SearchDocument


@dataclass(frozen=True)
class Source:
    label: str
    queryset: Callable[[], QuerySet]
    row: Callable[[Any], dict[str, Any]]


SOURCES = (
    Source(
        "messages", lambda: ChatMessage.objects.select_related("chat_room"), services.message_row
    ),
    Source(
        "comments",
        lambda: TaskThreadComment.objects.select_related("task__column"),
        services.comment_row,
    ),
    Source("tasks", lambda: Task.objects.select_related("column"), services.task_row),
)


def _batches(source: Source, size: int) -> Iterator[int]:
    """Index one source in batches; yields how many rows each batch covered."""
    last = 0
    while True:
        with transaction.atomic():
            rows: list[Model] = list(
                source.queryset()
                .filter(pk__gt=last)
                .order_by("pk")
                .select_for_update(no_key=True, of=("self",))[:size]
            )
            if not rows:
                return
            engine.upsert(
                [source.row(obj) for obj in rows if not getattr(obj, "is_deleted", False)]
            )
        last = rows[-1].pk
        yield len(rows)


def rebuild(
    *, batch_size: int = 500, progress: Callable[[str, int, int], None] | None = None
) -> int:
    """Rebuild the index; returns the number of rows removed as stale.

    `progress(label, done, total)` is called after every batch."""
    started = timezone.now()
    for source in SOURCES:
        total = source.queryset().count()
        done = 0
        if progress:
            progress(source.label, done, total)
        for count in _batches(source, batch_size):
            done += count
            if progress:
                progress(source.label, min(done, total), max(total, done))
    removed, _ = SearchDocument.objects.filter(indexed_at__lt=started).delete()
    if connection.vendor == "sqlite":
        _recreate_sqlite_text_index()
    return removed


def _recreate_sqlite_text_index() -> None:
    """SQLite: the FTS5 table and its triggers made again (an FTS5 tokenizer is fixed when its
    table is created, so this is how a changed SEARCH_LANGUAGE reaches it) and refilled from
    the index rows, in one transaction: posts wait for it, searches read the old table."""
    text_index = importlib.import_module("search.migrations.0002_text_index")
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in text_index.SQLITE_BACKWARD:
            cursor.execute(statement)
        for statement in text_index.SQLITE_FORWARD:
            cursor.execute(statement.format(tokenize=text_index.sqlite_tokenizer()))
        cursor.execute("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")

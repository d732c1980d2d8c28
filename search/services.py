"""Writes to the search index. The posting and task services call these inside their own
transaction, right after saving, so a message is searchable the moment it commits and an
index row never outlives a rolled-back post.

    index_message(message)   index_comment(comment)   index_task(task)
    remove_message(message)  remove_comment(comment)  remove_task(task)

Calling `index_*` again replaces the row (an edit is found by its new words only). A hard
delete needs no call (the index rows' foreign keys cascade); a soft delete (`is_deleted`) calls
`remove_*`, or `index_*`, which removes a deleted item.
"""

from __future__ import annotations

from typing import Any

from kanban.models import Task
from messaging.models import ChatMessage, TaskThreadComment

from . import engine
from .models import SearchDocument

Kind = SearchDocument.Kind


def _has_attachments(obj: Any) -> bool:
    """Whether a message or comment carries files (tasks carry none). The posting services
    set `has_attachments` on the row they just saved; otherwise (an edit, a reindex) ask."""
    flag = getattr(obj, "has_attachments", None)
    if flag is not None:
        return bool(flag)
    files = getattr(obj, "attachments", None)
    return files is not None and files.exists()


def message_row(message: ChatMessage) -> dict[str, Any]:
    room = message.chat_room
    return {
        "kind": Kind.MESSAGE,
        "object_id": message.pk,
        "message_id": message.pk,
        "comment_id": None,
        "room_id": room.pk,
        "task_id": None,
        "board_id": room.board_id,
        "author_id": message.author_id,
        "created_at": message.created_at,
        "text": engine.clean_text(message.content),
        "has_attachments": _has_attachments(message),
    }


def comment_row(comment: TaskThreadComment) -> dict[str, Any]:
    return {
        "kind": Kind.COMMENT,
        "object_id": comment.pk,
        "message_id": None,
        "comment_id": comment.pk,
        "room_id": None,
        "task_id": comment.task_id,
        "board_id": comment.task.column.board_id,
        "author_id": comment.author_id,
        "created_at": comment.created_at,
        "text": engine.clean_text(comment.content),
        "has_attachments": _has_attachments(comment),
    }


def task_row(task: Task) -> dict[str, Any]:
    text = task.title if not task.description else f"{task.title}\n\n{task.description}"
    return {
        "kind": Kind.TASK,
        "object_id": task.pk,
        "message_id": None,
        "comment_id": None,
        "room_id": None,
        "task_id": task.pk,
        "board_id": task.column.board_id,
        "author_id": task.created_by_id,
        "created_at": task.created_at,
        "text": engine.clean_text(text),
        "has_attachments": False,
    }


def _deleted(obj: Any) -> bool:
    return bool(getattr(obj, "is_deleted", False))


def index_message(message: ChatMessage) -> None:
    """Index (or re-index after an edit) a chat message; a deleted one leaves the index."""
    if _deleted(message):
        remove_message(message)
    else:
        engine.upsert([message_row(message)])


def index_comment(comment: TaskThreadComment) -> None:
    if _deleted(comment):
        remove_comment(comment)
    else:
        engine.upsert([comment_row(comment)])


def index_task(task: Task) -> None:
    engine.upsert([task_row(task)])


def remove_message(message: ChatMessage) -> None:
    engine.delete(Kind.MESSAGE, [message.pk])


def remove_comment(comment: TaskThreadComment) -> None:
    engine.delete(Kind.COMMENT, [comment.pk])


def remove_task(task: Task) -> None:
    engine.delete(Kind.TASK, [task.pk])

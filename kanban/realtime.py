"""The board socket's event shapes (ws/board/<board_id>/), next to messaging.realtime, whose
group names and sending functions they use.

Every change to what a board page shows goes through one kanban service, which bumps the
board's `version` under the board's row lock (so changes to one board are serialized and
numbered in commit order), builds one frame with that version here, and broadcasts it after
commit. A client applies frames in version order; one that sees a gap fetches the board's
state (`kanban:board_state`) and converges. Frames carry absolute values (whole cards, whole
column orders), so applying one twice or after a newer state does no harm.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.db.models import F

from messaging import realtime

from .models import Board, Column, Label, Task, TaskActivity

if TYPE_CHECKING:
    from accounts.models import User

# Board frame types (server -> client). Every one has "type", "board_id" and "version".
TASK_CREATED = "task_created"
TASK_UPDATED = "task_updated"
TASK_MOVED = "task_moved"
TASK_DELETED = "task_deleted"
COLUMN_CREATED = "column_created"
COLUMN_UPDATED = "column_updated"
COLUMN_MOVED = "column_moved"
COLUMN_DELETED = "column_deleted"
MEMBER_ADDED = "member_added"
MEMBER_REMOVED = "member_removed"
COMMENT_COUNT = "comment_count"
LABELS_UPDATED = "labels_updated"
CHECKLIST_UPDATED = "checklist_updated"

# Ephemeral "who's here" frames (no version: they are not board state).
VIEWER_JOIN = "viewer_join"
VIEWER_LEAVE = "viewer_leave"
# Channel-layer event types between board sockets for "who's here".
BOARD_HELLO = "board.hello"
BOARD_HERE = "board.here"


def board_group(board_id: int) -> str:
    return realtime.board_group(board_id)


# --- versioning -------------------------------------------------------------------------


def lock_board(board_id: int) -> int:
    """Take the board's row lock for the rest of the transaction and bump its version; returns
    the new version. Called first by every service that changes the board page, so changes to
    one board are serialized (and lock rows in one order) and numbered as they commit."""
    Board.objects.filter(pk=board_id).update(version=F("version") + 1)
    return Board.objects.filter(pk=board_id).values_list("version", flat=True).get()


def broadcast_on_commit(board_id: int, payload: dict[str, Any]) -> None:
    realtime.broadcast_on_commit(board_group(board_id), payload)


# --- building blocks (plain data) -------------------------------------------------------


def person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.username, "display_name": user.get_display_name()}


def label_data(label: Label) -> dict[str, Any]:
    return {"id": label.pk, "name": label.name, "colour": label.colour}


def _date(value: datetime.date | None) -> str | None:
    return value.isoformat() if value else None


def card(task: Task) -> dict[str, Any]:
    """The fields a card (and the task page) shows. `task` comes from
    `selectors.task_cards`: assignee loaded, labels prefetched, counts annotated."""
    return {
        "id": task.pk,
        "title": task.title,
        "description": task.description,
        "column_id": task.column_id,
        "position": task.position,
        "priority": task.priority,
        "priority_label": task.get_priority_display(),
        "due_date": _date(task.due_date),
        "assignee": person(task.assignee),
        "labels": [label_data(label) for label in task.labels.all()],
        "checklist": {"done": task.checklist_done, "total": task.checklist_total},
        "comment_count": task.comment_count,
        "url": task.get_absolute_url(),
    }


def column_order(column_id: int) -> dict[str, Any]:
    """A column's task ids in order (read inside the changing transaction)."""
    return {
        "id": column_id,
        "task_ids": list(
            Task.objects.filter(column_id=column_id)
            .order_by("position", "pk")
            .values_list("pk", flat=True)
        ),
    }


def board_column_order(board_id: int) -> list[int]:
    return list(
        Column.objects.filter(board_id=board_id)
        .order_by("position", "pk")
        .values_list("pk", flat=True)
    )


def activity_data(entry: TaskActivity) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "task_id": entry.task_id,
        "kind": entry.kind,
        "actor": person(entry.actor),
        "data": entry.data,
        "text": entry.text,
        "timestamp": realtime.iso(entry.created_at),
    }


# --- frames -----------------------------------------------------------------------------


def _frame(kind: str, board_id: int, version: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "board_id": board_id, "version": version, **fields}


def task_frame(
    kind: str,
    *,
    board_id: int,
    version: int,
    task: dict[str, Any],
    activities: Sequence[TaskActivity] = (),
    **fields: Any,
) -> dict[str, Any]:
    """task_created / task_updated / task_moved / checklist_updated / comment_count: the card
    and the activity entries the change recorded (newest first)."""
    return _frame(
        kind,
        board_id,
        version,
        task_id=task["id"],
        column_id=task["column_id"],
        task=task,
        activities=[activity_data(entry) for entry in reversed(list(activities))],
        **fields,
    )


def task_deleted_frame(
    *, board_id: int, version: int, task_id: int, column: dict[str, Any]
) -> dict[str, Any]:
    return _frame(
        TASK_DELETED,
        board_id,
        version,
        task_id=task_id,
        column_id=column["id"],
        columns=[column],
    )


def column_frame(
    kind: str, *, board_id: int, version: int, column: Column, **fields: Any
) -> dict[str, Any]:
    return _frame(
        kind,
        board_id,
        version,
        column_id=column.pk,
        column={"id": column.pk, "name": column.name, "position": column.position},
        column_order=board_column_order(board_id),
        **fields,
    )


def column_deleted_frame(*, board_id: int, version: int, column_id: int) -> dict[str, Any]:
    return _frame(
        COLUMN_DELETED,
        board_id,
        version,
        column_id=column_id,
        column_order=board_column_order(board_id),
    )


def member_frame(kind: str, *, board_id: int, version: int, user: User) -> dict[str, Any]:
    return _frame(kind, board_id, version, user_id=user.pk, member=person(user))


def labels_frame(
    *, board_id: int, version: int, labels: Iterable[Label], task_ids: Sequence[int] = ()
) -> dict[str, Any]:
    """The board's whole label set; `task_ids` names the cards that lost a deleted label."""
    return _frame(
        LABELS_UPDATED,
        board_id,
        version,
        labels=[label_data(label) for label in labels],
        task_ids=list(task_ids),
    )


def viewer_payload(user: User, viewer_id: str, *, joined: bool) -> dict[str, Any]:
    return {
        "type": VIEWER_JOIN if joined else VIEWER_LEAVE,
        "viewer_id": viewer_id,
        "user_id": user.pk,
        "username": user.username,
        "display_name": user.get_display_name(),
    }

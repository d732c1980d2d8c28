"""Writes to what a card holds besides its fields: the board's labels and each task's
checklist. Same rules as kanban.services (any board member may change them; the board's lock
and version first; one frame per change, after commit)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import User

from . import realtime as board_realtime
from .models import Board, ChecklistItem, Label, Task
from .selectors import board_labels, checklist_data
from .services import _clean_name, _renumber, _require_member, card_of

# --- labels -----------------------------------------------------------------------------


def _clean_colour(colour: str) -> str:
    if colour not in Label.Colour.values:
        raise ValidationError(f"Unknown colour “{colour}”; pick one from the palette.")
    return colour


def _broadcast_labels(board: Board, version: int, task_ids: list[int] | tuple = ()) -> None:
    board_realtime.broadcast_on_commit(
        board.pk,
        board_realtime.labels_frame(
            board_id=board.pk, version=version, labels=list(board_labels(board)), task_ids=task_ids
        ),
    )


def _save_label(label: Label, *, fields: list[str] | None = None) -> None:
    try:
        with transaction.atomic():
            label.save(update_fields=fields)
    except IntegrityError:
        raise ValidationError(f"This board already has a label named “{label.name}”.") from None


@transaction.atomic
def create_label(*, board: Board, name: str, colour: str, created_by: User) -> Label:
    _require_member(board, created_by)
    label = Label(
        board=board,
        name=_clean_name(name, label="Label name", max_length=40),
        colour=_clean_colour(colour),
    )
    version = board_realtime.lock_board(board.pk)
    _save_label(label)
    _broadcast_labels(board, version)
    return label


@transaction.atomic
def update_label(*, label: Label, name: str, colour: str, updated_by: User) -> Label:
    _require_member(label.board, updated_by)
    label.name = _clean_name(name, label="Label name", max_length=40)
    label.colour = _clean_colour(colour)
    version = board_realtime.lock_board(label.board_id)
    _save_label(label, fields=["name", "colour"])
    _broadcast_labels(label.board, version)
    return label


@transaction.atomic
def delete_label(*, label: Label, deleted_by: User) -> None:
    """Delete the label; the cards that carried it lose it (the frame names them)."""
    board = label.board
    _require_member(board, deleted_by)
    version = board_realtime.lock_board(board.pk)
    task_ids = list(label.tasks.values_list("pk", flat=True))
    label.delete()
    _broadcast_labels(board, version, task_ids)


# --- checklists -------------------------------------------------------------------------


def _items_in_order(task_id: int) -> list[ChecklistItem]:
    return list(
        ChecklistItem.objects.select_for_update().filter(task_id=task_id).order_by("position", "pk")
    )


def _broadcast_checklist(task: Task, version: int) -> None:
    board_id = task.column.board_id
    items = checklist_data(task)
    board_realtime.broadcast_on_commit(
        board_id,
        board_realtime.task_frame(
            board_realtime.CHECKLIST_UPDATED,
            board_id=board_id,
            version=version,
            task=card_of(task.pk),
            items=items,
        ),
    )


def _begin(task: Task, user: User) -> int:
    _require_member(task.column.board, user)
    return board_realtime.lock_board(task.column.board_id)


@transaction.atomic
def add_checklist_item(*, task: Task, text: str, added_by: User) -> ChecklistItem:
    """Append an item to the task's checklist."""
    text = _clean_name(text, label="Checklist item", max_length=200)
    version = _begin(task, added_by)
    position = len(_items_in_order(task.pk))
    item = ChecklistItem.objects.create(task=task, text=text, position=position)
    _broadcast_checklist(task, version)
    return item


@transaction.atomic
def set_checklist_item_done(*, item: ChecklistItem, done: bool, changed_by: User) -> ChecklistItem:
    version = _begin(item.task, changed_by)
    item.done = done
    item.save(update_fields=["done"])
    _broadcast_checklist(item.task, version)
    return item


@transaction.atomic
def rename_checklist_item(*, item: ChecklistItem, text: str, renamed_by: User) -> ChecklistItem:
    item.text = _clean_name(text, label="Checklist item", max_length=200)
    version = _begin(item.task, renamed_by)
    item.save(update_fields=["text"])
    _broadcast_checklist(item.task, version)
    return item


@transaction.atomic
def move_checklist_item(*, item: ChecklistItem, position: int, moved_by: User) -> ChecklistItem:
    """Put the item at `position` (0 = first; past the end means last)."""
    if position < 0:
        raise ValidationError("Position cannot be negative.")
    version = _begin(item.task, moved_by)
    items = [i for i in _items_in_order(item.task_id) if i.pk != item.pk]
    moving = ChecklistItem.objects.get(pk=item.pk)
    items.insert(min(position, len(items)), moving)
    _renumber(items)
    item.position = moving.position
    _broadcast_checklist(item.task, version)
    return item


@transaction.atomic
def delete_checklist_item(*, item: ChecklistItem, deleted_by: User) -> None:
    task = item.task
    version = _begin(task, deleted_by)
    item.delete()
    _renumber(_items_in_order(task.pk))
    _broadcast_checklist(task, version)

"""Writes to boards, columns and tasks. Views and commands call these; nothing else saves them.

Rules that hold across the module (stated once, in kanban.access):
- Anyone who can read a board may manage its columns and tasks; the board's creator and the
  organization's owners and admins may edit or delete it and manage its members.
- Every board is in one organization, and only that organization's members can be added.
- Positions are dense: columns of a board and tasks of a column are numbered 0..n-1. Every
  service that adds, removes or moves one renumbers its siblings in the same transaction.
- Rows whose order changes are locked (`select_for_update`, in primary-key order so two moves
  cannot deadlock) before they are read; on SQLite this is a no-op and writes are serialized
  by the database lock.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model

from accounts import access as org_access
from accounts import org_services
from accounts.audit import Action, record_audit
from accounts.models import Organization, User
from messaging import realtime

from . import access
from .models import Board, Column, Task

DEFAULT_COLUMNS = ("To Do", "In Progress", "Done")


# --- helpers ----------------------------------------------------------------------------


def _is_member(board: Board, user: User) -> bool:
    return access.can_read_board(user, board.pk)


def _require_member(board: Board, user: User) -> None:
    if not _is_member(board, user):
        raise ValidationError("You are not a member of this board.")


def _require_creator(board: Board, user: User, action: str) -> None:
    if not access.can_manage_board(user, board):
        raise ValidationError(
            f"Only the board's creator or an organization admin can {action}.", code="forbidden"
        )


def _clean_name(value: str, *, label: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError(f"{label} cannot be empty.")
    if len(value) > max_length:
        raise ValidationError(f"{label} can be at most {max_length} characters.")
    return value


def _renumber(rows: Sequence[Model], *, extra_fields: Iterable[str] = ()) -> None:
    """Give `rows` positions 0..n-1 in list order, writing only the rows that changed."""
    changed = []
    for index, row in enumerate(rows):
        if row.position != index:
            row.position = index
            changed.append(row)
    fields = ["position", *extra_fields]
    if changed:
        type(rows[0]).objects.bulk_update(changed, fields)


def _locked_columns(board_id: int) -> list[Column]:
    return list(Column.objects.select_for_update().filter(board_id=board_id).order_by("pk"))


def _tasks_in_order(column_id: int) -> list[Task]:
    return list(
        Task.objects.select_for_update().filter(column_id=column_id).order_by("position", "pk")
    )


# --- boards -----------------------------------------------------------------------------


@transaction.atomic
def create_board(
    *,
    name: str,
    description: str = "",
    created_by: User,
    organization: Organization | None = None,
) -> Board:
    """A new board with the default columns in `organization` (which the creator must belong
    to; without one, the creator's default organization); its creator is its first member."""
    name = _clean_name(name, label="Board name", max_length=120)
    if organization is None:
        organization = org_services.default_organization_for(created_by)
    elif not org_access.can_read_organization(created_by, organization.pk):
        raise ValidationError(
            {"organization": "You can only create boards in your own organizations."},
            code="not_member",
        )
    board = Board.objects.create(
        organization=organization,
        name=name,
        description=(description or "").strip(),
        created_by=created_by,
    )
    board.members.add(created_by)
    record_audit(
        organization=organization,
        actor=created_by,
        action=Action.BOARD_CREATED,
        target=board,
        changes={"name": board.name},
    )
    Column.objects.bulk_create(
        Column(board=board, name=column_name, position=index)
        for index, column_name in enumerate(DEFAULT_COLUMNS)
    )
    return board


@transaction.atomic
def update_board(*, board: Board, name: str, description: str, updated_by: User) -> Board:
    _require_creator(board, updated_by, "edit it")
    old_name = board.name
    board.name = _clean_name(name, label="Board name", max_length=120)
    board.description = (description or "").strip()
    board.save(update_fields=["name", "description"])
    if board.name != old_name:
        record_audit(
            organization=board.organization_id,
            actor=updated_by,
            action=Action.BOARD_RENAMED,
            target=board,
            changes={"name": [old_name, board.name]},
        )
    return board


@transaction.atomic
def delete_board(*, board: Board, deleted_by: User) -> None:
    """Delete the board with its columns, tasks and chat rooms. Members' open sockets are asked
    to re-check access, so a live comment thread or chat on it stops at once."""
    _require_creator(board, deleted_by, "delete it")
    member_ids = list(board.members.values_list("pk", flat=True))
    record_audit(
        organization=board.organization_id,
        actor=deleted_by,
        action=Action.BOARD_DELETED,
        target=board,
        changes={"name": board.name},
    )
    board.delete()
    for user_id in member_ids:
        realtime.signal_access_changed_on_commit(user_id)


# --- members ----------------------------------------------------------------------------


@transaction.atomic
def add_member(*, board: Board, username: str, added_by: User) -> User:
    """Add a member of the board's organization by username. Someone outside the
    organization gets the same answer as a name nobody has."""
    _require_creator(board, added_by, "add members")
    username = (username or "").strip().lstrip("@")
    user = (
        org_access.organization_members(board.organization_id)
        .filter(username__iexact=username)
        .first()
    )
    if user is None:
        raise ValidationError(f"No user named “{username}”.")
    if _is_member(board, user):
        raise ValidationError(f"{user.get_display_name()} is already a member of this board.")
    board.members.add(user)
    record_audit(
        organization=board.organization_id,
        actor=added_by,
        action=Action.BOARD_MEMBER_ADDED,
        target=board,
        changes={"user": user.username},
    )
    return user


@transaction.atomic
def remove_member(*, board: Board, user: User, removed_by: User) -> None:
    """Remove a member. Their tasks on this board become unassigned (assignees are always
    members), and their open sockets re-check access after commit."""
    _require_creator(board, removed_by, "remove members")
    if user.pk == board.created_by_id:
        raise ValidationError("The board's creator cannot be removed.")
    if not _is_member(board, user):
        raise ValidationError(f"{user.get_display_name()} is not a member of this board.")
    board.members.remove(user)
    Task.objects.filter(column__board=board, assignee=user).update(assignee=None)
    record_audit(
        organization=board.organization_id,
        actor=removed_by,
        action=Action.BOARD_MEMBER_REMOVED,
        target=board,
        changes={"user": user.username},
    )
    realtime.signal_access_changed_on_commit(user.pk)


# --- columns ----------------------------------------------------------------------------


@transaction.atomic
def create_column(*, board: Board, name: str, created_by: User) -> Column:
    """Append a column at the right end of the board."""
    _require_member(board, created_by)
    name = _clean_name(name, label="Column name", max_length=80)
    columns = _locked_columns(board.pk)
    return Column.objects.create(board=board, name=name, position=len(columns))


@transaction.atomic
def rename_column(*, column: Column, name: str, renamed_by: User) -> Column:
    _require_member(column.board, renamed_by)
    column.name = _clean_name(name, label="Column name", max_length=80)
    column.save(update_fields=["name"])
    return column


@transaction.atomic
def move_column(*, column: Column, position: int, moved_by: User) -> Column:
    """Put the column at `position` (0 = leftmost; past the end means last)."""
    _require_member(column.board, moved_by)
    if position < 0:
        raise ValidationError("Position cannot be negative.")
    columns = sorted(_locked_columns(column.board_id), key=lambda c: (c.position, c.pk))
    moving = next(c for c in columns if c.pk == column.pk)
    columns.remove(moving)
    columns.insert(min(position, len(columns)), moving)
    _renumber(columns)
    column.position = moving.position
    return column


@transaction.atomic
def delete_column(*, column: Column, deleted_by: User) -> None:
    """Delete an empty column. One that still holds tasks is refused: move or delete them
    first, so no task disappears as a side effect."""
    _require_member(column.board, deleted_by)
    columns = sorted(_locked_columns(column.board_id), key=lambda c: (c.position, c.pk))
    task_count = column.tasks.count()
    if task_count:
        raise ValidationError(
            f"“{column.name}” still has {task_count} task{'s' if task_count != 1 else ''}. "
            "Move or delete them before deleting the column."
        )
    column_id = column.pk  # delete() clears column.pk
    column.delete()
    _renumber([c for c in columns if c.pk != column_id])


# --- tasks ------------------------------------------------------------------------------


def _check_assignee(board: Board, assignee: User | None) -> None:
    if assignee is not None and not _is_member(board, assignee):
        raise ValidationError(f"{assignee.get_display_name()} is not a member of this board.")


@transaction.atomic
def create_task(
    *,
    column: Column,
    title: str,
    created_by: User,
    description: str = "",
    assignee: User | None = None,
    priority: str = Task.Priority.MEDIUM,
    due_date: datetime.date | None = None,
) -> Task:
    """Add a task at the bottom of the column."""
    board = column.board
    _require_member(board, created_by)
    _check_assignee(board, assignee)
    if priority not in Task.Priority.values:
        raise ValidationError(f"Unknown priority “{priority}”.")
    list(Column.objects.select_for_update().filter(pk=column.pk))
    return Task.objects.create(
        column=column,
        title=_clean_name(title, label="Title", max_length=200),
        description=(description or "").strip(),
        assignee=assignee,
        priority=priority,
        due_date=due_date,
        position=Task.objects.filter(column=column).count(),
        created_by=created_by,
    )


@transaction.atomic
def update_task(
    *,
    task: Task,
    title: str,
    description: str,
    assignee: User | None,
    priority: str,
    due_date: datetime.date | None,
    updated_by: User,
) -> Task:
    board = task.column.board
    _require_member(board, updated_by)
    _check_assignee(board, assignee)
    if priority not in Task.Priority.values:
        raise ValidationError(f"Unknown priority “{priority}”.")
    task.title = _clean_name(title, label="Title", max_length=200)
    task.description = (description or "").strip()
    task.assignee = assignee
    task.priority = priority
    task.due_date = due_date
    task.save(
        update_fields=["title", "description", "assignee", "priority", "due_date", "updated_at"]
    )
    return task


@transaction.atomic
def delete_task(*, task: Task, deleted_by: User) -> None:
    board = task.column.board
    _require_member(board, deleted_by)
    column_id = task.column_id
    list(Column.objects.select_for_update().filter(pk=column_id))
    record_audit(
        organization=board.organization_id,
        actor=deleted_by,
        action=Action.TASK_DELETED,
        target=task,
        changes={"title": task.title, "board": board.name},
    )
    task.delete()
    _renumber(_tasks_in_order(column_id))


@transaction.atomic
def move_task(*, task: Task, to_column: Column, position: int, moved_by: User) -> Task:
    """Move `task` to `position` (0 = top; past the end means bottom) in `to_column`, which may
    be its own column. Both columns are renumbered 0..n-1 in the same transaction.

    Refuses a user who is not a member of the task's board and a column on another board.
    """
    board = task.column.board
    _require_member(board, moved_by)
    if to_column.board_id != board.pk:
        raise ValidationError("A task can only move to a column on its own board.")
    if position < 0:
        raise ValidationError("Position cannot be negative.")

    # Lock both columns in pk order, then re-read the task: a concurrent move may have taken
    # it to another column (of the same board: columns never change board) meanwhile.
    list(
        Column.objects.select_for_update()
        .filter(pk__in={task.column_id, to_column.pk})
        .order_by("pk")
    )
    moving = Task.objects.select_for_update().filter(pk=task.pk).first()
    if moving is None:
        raise ValidationError("This task no longer exists.")

    source = [t for t in _tasks_in_order(moving.column_id) if t.pk != task.pk]
    if moving.column_id == to_column.pk:
        target = source
    else:
        target = _tasks_in_order(to_column.pk)
        _renumber(source)
    moving.column = to_column
    target.insert(min(position, len(target)), moving)
    moving.position = -1  # forces a write of the new column even when the index is unchanged
    _renumber(target, extra_fields=["column"])

    task.column = to_column
    task.position = moving.position
    return task

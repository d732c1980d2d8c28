"""Writes to boards, columns and tasks. Views and commands call these; nothing else saves them.

`as_admin=True` is for the admin site only: its staff act under the admin's own permissions
instead of the board's rule, and everything else (validation, renumbering, audit, closing
sockets) happens exactly as for anyone else.

Rules that hold across the module (stated once, in kanban.access):
- Anyone who can read a board may manage its columns and tasks; the board's creator and the
  organization's owners and admins may edit or delete it and manage its members.
- Every board is in one organization, and only that organization's members can be added.
- Positions are dense: columns of a board and tasks of a column are numbered 0..n-1. Every
  service that adds, removes or moves one renumbers its siblings in the same transaction.
- Every service that changes what the board page shows first takes the board's row lock and
  bumps its version (`board_realtime.lock_board`): changes to one board are serialized, and
  each one is broadcast after commit as one frame carrying that version (kanban.realtime).
  Rows whose order changes are then locked (`select_for_update`, in primary-key order) before
  they are read; on SQLite this is a no-op and writes are serialized by the database lock.
- Task changes record their activity (kanban.activity) in the same transaction.
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
from messaging.models import Notification
from messaging.services.activity import event_key, schedule_activity_notification
from search import services as search_index
from webhooks import events as webhook_events
from webhooks.models import Event as WebhookEvent

from . import access, activity
from . import realtime as board_realtime
from .models import Board, Column, Label, Task, TaskActivity
from .selectors import task_cards

DEFAULT_COLUMNS = ("To Do", "In Progress", "Done")


# --- helpers ----------------------------------------------------------------------------


def _is_member(board: Board, user: User) -> bool:
    return access.can_read_board(user, board.pk)


def _require_member(board: Board, user: User, *, as_admin: bool = False) -> None:
    if not as_admin and not _is_member(board, user):
        raise ValidationError("You are not a member of this board.")


def _require_creator(board: Board, user: User, action: str, *, as_admin: bool = False) -> None:
    if not as_admin and not access.can_manage_board(user, board):
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


def card_of(task_id: int) -> dict:
    """The card JSON of a task, read inside the changing transaction."""
    return board_realtime.card(task_cards().get(pk=task_id))


def _broadcast_task(
    kind: str,
    *,
    board_id: int,
    version: int,
    task_id: int,
    activities: Sequence[TaskActivity] = (),
    **fields,
) -> None:
    board_realtime.broadcast_on_commit(
        board_id,
        board_realtime.task_frame(
            kind,
            board_id=board_id,
            version=version,
            task=card_of(task_id),
            activities=activities,
            **fields,
        ),
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
def update_board(
    *, board: Board, name: str, description: str, updated_by: User, as_admin: bool = False
) -> Board:
    _require_creator(board, updated_by, "edit it", as_admin=as_admin)
    # From the database: a ModelForm bound to `board` has already assigned the new name.
    old_name = Board.objects.filter(pk=board.pk).values_list("name", flat=True).first()
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
def delete_board(*, board: Board, deleted_by: User, as_admin: bool = False) -> None:
    """Delete the board with its columns, tasks and chat rooms. Members' open sockets are asked
    to re-check access, so a live comment thread or chat on it stops at once."""
    _require_creator(board, deleted_by, "delete it", as_admin=as_admin)
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
def add_member(*, board: Board, username: str, added_by: User, as_admin: bool = False) -> User:
    """Add a member of the board's organization by username. Someone outside the
    organization gets the same answer as a name nobody has."""
    _require_creator(board, added_by, "add members", as_admin=as_admin)
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
    version = board_realtime.lock_board(board.pk)
    board.members.add(user)
    board_realtime.broadcast_on_commit(
        board.pk,
        board_realtime.member_frame(
            board_realtime.MEMBER_ADDED, board_id=board.pk, version=version, user=user
        ),
    )
    audit = record_audit(
        organization=board.organization_id,
        actor=added_by,
        action=Action.BOARD_MEMBER_ADDED,
        target=board,
        changes={"user": user.username},
    )
    schedule_activity_notification(
        kind=Notification.Type.BOARD_INVITE,
        recipient_id=user.pk,
        actor_id=added_by.pk,
        target_id=board.pk,
        key=event_key(Notification.Type.BOARD_INVITE, audit),
    )
    return user


@transaction.atomic
def remove_member(*, board: Board, user: User, removed_by: User, as_admin: bool = False) -> None:
    """Remove a member. Their tasks on this board become unassigned (assignees are always
    members), and their open sockets re-check access after commit."""
    _require_creator(board, removed_by, "remove members", as_admin=as_admin)
    if user.pk == board.created_by_id:
        raise ValidationError("The board's creator cannot be removed.")
    if not _is_member(board, user):
        raise ValidationError(f"{user.get_display_name()} is not a member of this board.")
    version = board_realtime.lock_board(board.pk)
    board.members.remove(user)
    # Cards that lose their assignee are resent whole after the member frame: a later
    # version each, so clients apply them in order.
    unassigned = list(
        Task.objects.filter(column__board=board, assignee=user).values_list("pk", flat=True)
    )
    Task.objects.filter(pk__in=unassigned).update(assignee=None)
    board_realtime.broadcast_on_commit(
        board.pk,
        board_realtime.member_frame(
            board_realtime.MEMBER_REMOVED, board_id=board.pk, version=version, user=user
        ),
    )
    for task_id in unassigned:
        version = board_realtime.lock_board(board.pk)
        _broadcast_task(
            board_realtime.TASK_UPDATED, board_id=board.pk, version=version, task_id=task_id
        )
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
    version = board_realtime.lock_board(board.pk)
    columns = _locked_columns(board.pk)
    column = Column.objects.create(board=board, name=name, position=len(columns))
    board_realtime.broadcast_on_commit(
        board.pk,
        board_realtime.column_frame(
            board_realtime.COLUMN_CREATED, board_id=board.pk, version=version, column=column
        ),
    )
    return column


@transaction.atomic
def rename_column(*, column: Column, name: str, renamed_by: User, as_admin: bool = False) -> Column:
    _require_member(column.board, renamed_by, as_admin=as_admin)
    column.name = _clean_name(name, label="Column name", max_length=80)
    version = board_realtime.lock_board(column.board_id)
    column.save(update_fields=["name"])
    board_realtime.broadcast_on_commit(
        column.board_id,
        board_realtime.column_frame(
            board_realtime.COLUMN_UPDATED, board_id=column.board_id, version=version, column=column
        ),
    )
    return column


@transaction.atomic
def move_column(*, column: Column, position: int, moved_by: User) -> Column:
    """Put the column at `position` (0 = leftmost; past the end means last)."""
    _require_member(column.board, moved_by)
    if position < 0:
        raise ValidationError("Position cannot be negative.")
    version = board_realtime.lock_board(column.board_id)
    columns = sorted(_locked_columns(column.board_id), key=lambda c: (c.position, c.pk))
    moving = next(c for c in columns if c.pk == column.pk)
    columns.remove(moving)
    columns.insert(min(position, len(columns)), moving)
    _renumber(columns)
    column.position = moving.position
    board_realtime.broadcast_on_commit(
        column.board_id,
        board_realtime.column_frame(
            board_realtime.COLUMN_MOVED,
            board_id=column.board_id,
            version=version,
            column=column,
            position=column.position,
        ),
    )
    return column


@transaction.atomic
def delete_column(*, column: Column, deleted_by: User, as_admin: bool = False) -> None:
    """Delete an empty column. One that still holds tasks is refused: move or delete them
    first, so no task disappears as a side effect."""
    _require_member(column.board, deleted_by, as_admin=as_admin)
    version = board_realtime.lock_board(column.board_id)
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
    board_realtime.broadcast_on_commit(
        column.board_id,
        board_realtime.column_deleted_frame(
            board_id=column.board_id, version=version, column_id=column_id
        ),
    )


# --- tasks ------------------------------------------------------------------------------


def _check_assignee(board: Board, assignee: User | None) -> None:
    if assignee is not None and not _is_member(board, assignee):
        raise ValidationError(f"{assignee.get_display_name()} is not a member of this board.")


def _notify_assignee(task: Task, entry: TaskActivity, *, actor: User) -> None:
    """The new assignee hears of it (not when they assigned themselves); the activity entry
    names the event."""
    schedule_activity_notification(
        kind=Notification.Type.TASK_ASSIGNED,
        recipient_id=task.assignee_id,
        actor_id=actor.pk,
        target_id=task.pk,
        key=event_key(Notification.Type.TASK_ASSIGNED, entry),
    )


def _check_labels(board: Board, labels: Iterable[Label] | None) -> list[Label] | None:
    if labels is None:
        return None
    labels = list(labels)
    if any(label.board_id != board.pk for label in labels):
        raise ValidationError("A task can only carry labels of its own board.")
    return labels


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
    labels: Iterable[Label] = (),
) -> Task:
    """Add a task at the bottom of the column."""
    board = column.board
    _require_member(board, created_by)
    _check_assignee(board, assignee)
    labels = _check_labels(board, labels)
    if priority not in Task.Priority.values:
        raise ValidationError(f"Unknown priority “{priority}”.")
    title = _clean_name(title, label="Title", max_length=200)
    version = board_realtime.lock_board(board.pk)
    list(Column.objects.select_for_update().filter(pk=column.pk))
    task = Task.objects.create(
        column=column,
        title=title,
        description=(description or "").strip(),
        assignee=assignee,
        priority=priority,
        due_date=due_date,
        position=Task.objects.filter(column=column).count(),
        created_by=created_by,
    )
    search_index.index_task(task)
    if labels:
        task.labels.set(labels)
    entry = activity.record(
        task=task, actor=created_by, kind=TaskActivity.Kind.CREATED, data={"column": column.name}
    )
    _notify_assignee(task, entry, actor=created_by)
    _broadcast_task(
        board_realtime.TASK_CREATED,
        board_id=board.pk,
        version=version,
        task_id=task.pk,
        activities=[entry],
        columns=[board_realtime.column_order(column.pk)],
    )
    webhook_events.emit_on_commit(
        board_id=board.pk,
        event=WebhookEvent.TASK_CREATED,
        object_id=task.pk,
        actor_id=created_by.pk,
    )
    if assignee is not None:
        webhook_events.emit_on_commit(
            board_id=board.pk,
            event=WebhookEvent.TASK_ASSIGNED,
            object_id=task.pk,
            actor_id=created_by.pk,
        )
    return task


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
    labels: Iterable[Label] | None = None,
    as_admin: bool = False,
) -> Task:
    """Save the task's fields (and its labels, unless `labels` is None). Title, assignee, due
    date and label changes are recorded as activity."""
    board = task.column.board
    _require_member(board, updated_by, as_admin=as_admin)
    _check_assignee(board, assignee)
    labels = _check_labels(board, labels)
    if priority not in Task.Priority.values:
        raise ValidationError(f"Unknown priority “{priority}”.")
    title = _clean_name(title, label="Title", max_length=200)
    version = board_realtime.lock_board(board.pk)
    before = Task.objects.select_related("assignee").get(pk=task.pk)
    task.title = title
    task.description = (description or "").strip()
    task.assignee = assignee
    task.priority = priority
    task.due_date = due_date
    task.save(
        update_fields=["title", "description", "assignee", "priority", "due_date", "updated_at"]
    )
    search_index.index_task(task)
    entries = activity.record_field_changes(before=before, after=task, actor=updated_by)
    for entry in entries:
        if entry.kind == TaskActivity.Kind.ASSIGNED:
            _notify_assignee(task, entry, actor=updated_by)
    if labels is not None:
        entry = _apply_labels(task, labels, actor=updated_by)
        if entry is not None:
            entries.append(entry)
    _broadcast_task(
        board_realtime.TASK_UPDATED,
        board_id=board.pk,
        version=version,
        task_id=task.pk,
        activities=entries,
    )
    if assignee is not None and before.assignee_id != assignee.pk:
        webhook_events.emit_on_commit(
            board_id=board.pk,
            event=WebhookEvent.TASK_ASSIGNED,
            object_id=task.pk,
            actor_id=updated_by.pk,
        )
    return task


def _apply_labels(task: Task, labels: list[Label], *, actor: User) -> TaskActivity | None:
    """Set the task's labels; record what changed (None when nothing did)."""
    current = {label.pk: label for label in task.labels.all()}
    wanted = {label.pk: label for label in labels}
    added = [wanted[pk].name for pk in wanted if pk not in current]
    removed = [current[pk].name for pk in current if pk not in wanted]
    if not added and not removed:
        return None
    task.labels.set(labels)
    return activity.record(
        task=task,
        actor=actor,
        kind=TaskActivity.Kind.LABELS,
        data={"added": sorted(added), "removed": sorted(removed)},
    )


@transaction.atomic
def set_task_labels(*, task: Task, labels: Iterable[Label], changed_by: User) -> Task:
    """Replace the task's labels (the card menu and the task page's label picker)."""
    board = task.column.board
    _require_member(board, changed_by)
    labels = _check_labels(board, labels)
    version = board_realtime.lock_board(board.pk)
    entry = _apply_labels(task, labels, actor=changed_by)
    _broadcast_task(
        board_realtime.TASK_UPDATED,
        board_id=board.pk,
        version=version,
        task_id=task.pk,
        activities=[entry] if entry else [],
    )
    return task


@transaction.atomic
def delete_task(*, task: Task, deleted_by: User, as_admin: bool = False) -> None:
    board = task.column.board
    board_id = board.pk
    _require_member(board, deleted_by, as_admin=as_admin)
    version = board_realtime.lock_board(board_id)
    column_id = task.column_id
    task_id = task.pk
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
    board_realtime.broadcast_on_commit(
        board_id,
        board_realtime.task_deleted_frame(
            board_id=board_id,
            version=version,
            task_id=task_id,
            column=board_realtime.column_order(column_id),
        ),
    )


@transaction.atomic
def move_task(
    *, task: Task, to_column: Column, position: int, moved_by: User, as_admin: bool = False
) -> Task:
    """Move `task` to `position` (0 = top; past the end means bottom) in `to_column`, which may
    be its own column. Both columns are renumbered 0..n-1 in the same transaction, and the
    frame tells every board page the new order of both.

    Refuses a user who is not a member of the task's board and a column on another board.
    """
    board = task.column.board
    _require_member(board, moved_by, as_admin=as_admin)
    if to_column.board_id != board.pk:
        raise ValidationError("A task can only move to a column on its own board.")
    if position < 0:
        raise ValidationError("Position cannot be negative.")

    # The board lock serializes this move with every other change to the board; then re-read
    # the task: a concurrent move may have taken it to another column (of the same board:
    # columns never change board) meanwhile.
    version = board_realtime.lock_board(board.pk)
    list(
        Column.objects.select_for_update()
        .filter(pk__in={task.column_id, to_column.pk})
        .order_by("pk")
    )
    moving = Task.objects.select_for_update().select_related("column").filter(pk=task.pk).first()
    if moving is None:
        raise ValidationError("This task no longer exists.")
    from_column = moving.column

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
    entries = []
    if from_column.pk != to_column.pk:
        entries.append(
            activity.record(
                task=task,
                actor=moved_by,
                kind=TaskActivity.Kind.MOVED,
                data={"from": from_column.name, "to": to_column.name},
            )
        )
    touched = [from_column.pk] if from_column.pk == to_column.pk else [from_column.pk, to_column.pk]
    _broadcast_task(
        board_realtime.TASK_MOVED,
        board_id=board.pk,
        version=version,
        task_id=task.pk,
        activities=entries,
        position=task.position,
        from_column_id=from_column.pk,
        columns=[board_realtime.column_order(column_id) for column_id in touched],
    )
    webhook_events.emit_on_commit(
        board_id=board.pk,
        event=WebhookEvent.TASK_MOVED,
        object_id=task.pk,
        actor_id=moved_by.pk,
        extra={
            "from_column": {"id": from_column.pk, "name": from_column.name},
            "position": task.position,
        },
    )
    return task


def lock_board_for(*, task: Task) -> int:
    """Take the task's board lock and bump its version for a change made by another app's
    service (a comment); returns the version to pass to `note_comment_count`."""
    return board_realtime.lock_board(task.column.board_id)


def note_comment_count(*, task: Task, version: int) -> None:
    """Tell the board's pages the task's comment count (inside the commenting transaction,
    after `lock_board_for`)."""
    _broadcast_task(
        board_realtime.COMMENT_COUNT,
        board_id=task.column.board_id,
        version=version,
        task_id=task.pk,
    )

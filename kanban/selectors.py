"""Reads, scoped to a user. `get_<noun>_for` raises Http404 for a missing object and for one
the user may not see alike, so ids leak nothing."""

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from accounts.access import organization_members
from accounts.models import User

from . import access
from .models import Board, ChecklistItem, Column, Label, Task, TaskActivity


def boards_for(user: User) -> QuerySet[Board]:
    """Boards the user may read (kanban.access decides)."""
    return access.readable_boards(user)


def is_board_member(*, user: User, board_id: int) -> bool:
    """Kept for callers of the old name: `access.can_read_board`."""
    return access.can_read_board(user, board_id)


def get_board_for(user: User, board_id: int) -> Board:
    board = (
        boards_for(user).select_related("created_by", "organization").filter(pk=board_id).first()
    )
    if board is None:
        raise Http404("No such board.")
    return board


def get_column_for(user: User, column_id: int) -> Column:
    column = (
        Column.objects.select_related("board")
        .filter(pk=column_id, board__in=boards_for(user))
        .first()
    )
    if column is None:
        raise Http404("No such column.")
    return column


def get_task_for(user: User, task_id: int) -> Task:
    task = (
        Task.objects.select_related("column__board__organization", "assignee", "created_by")
        .filter(pk=task_id, column__board__in=boards_for(user))
        .first()
    )
    if task is None:
        raise Http404("No such task.")
    return task


def board_members(board: Board) -> QuerySet[User]:
    """The people who can read the board, by username."""
    return access.board_readers(board.pk).order_by("username")


def addable_board_members(board: Board) -> QuerySet[User]:
    """Members of the board's organization who are not on the board yet (the add-member
    picker offers nobody else)."""
    return (
        organization_members(board.organization_id)
        .exclude(pk__in=board_members(board).values("pk"))
        .order_by("username")
    )


def board_summaries_for(user: User) -> QuerySet[Board]:
    """The user's boards for the "My boards" list, each with `task_count` and `member_count`
    (counted in subqueries, so the membership filter cannot skew them) and its creator."""
    task_count = (
        Task.objects.filter(column__board=OuterRef("pk"))
        .order_by()
        .values("column__board")
        .annotate(n=Count("pk"))
        .values("n")
    )
    member_count = (
        access.reader_rows()
        .filter(board_id=OuterRef("pk"))
        .order_by()
        .values("board_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        boards_for(user)
        .select_related("created_by", "organization")
        .annotate(
            task_count=Coalesce(Subquery(task_count), 0),
            member_count=Coalesce(Subquery(member_count), 0),
        )
        .order_by("organization__name", "organization_id", "name", "pk")
    )


def _count_subquery(model, field: str, **filters) -> Coalesce:
    counted = (
        model.objects.filter(**{field: OuterRef("pk")}, **filters)
        .order_by()
        .values(field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted), 0)


def task_cards(tasks: QuerySet[Task] | None = None) -> QuerySet[Task]:
    """Tasks with what a card shows: assignee, labels (prefetched), and `checklist_done`,
    `checklist_total` and `comment_count` (deleted comments not counted; subqueries, so the
    counts cannot skew each other).
    kanban.realtime.card turns one into the card's JSON."""
    from messaging.models import TaskThreadComment

    tasks = Task.objects.all() if tasks is None else tasks
    return (
        tasks.select_related("assignee")
        .prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("name", "pk")))
        .annotate(
            checklist_total=_count_subquery(ChecklistItem, "task"),
            checklist_done=_count_subquery(ChecklistItem, "task", done=True),
            comment_count=_count_subquery(TaskThreadComment, "task", is_deleted=False),
        )
    )


def board_columns(board: Board) -> list[Column]:
    """The board's columns in order, each with its tasks (as `task_cards`) prefetched in
    order: a constant number of queries whatever the board's size."""
    tasks = task_cards().order_by("position", "pk")
    return list(
        board.columns.order_by("position", "pk").prefetch_related(Prefetch("tasks", queryset=tasks))
    )


def board_labels(board: Board) -> QuerySet[Label]:
    return board.labels.order_by("name", "pk")


def checklist_items(task: Task) -> QuerySet[ChecklistItem]:
    return task.checklist_items.order_by("position", "pk")


def task_activity(task: Task, *, limit: int = 100) -> QuerySet[TaskActivity]:
    """The task's activity, newest first."""
    return task.activities.select_related("actor").order_by("-created_at", "-pk")[:limit]


def get_label_for(user: User, label_id: int) -> Label:
    label = (
        Label.objects.select_related("board")
        .filter(pk=label_id, board__in=boards_for(user))
        .first()
    )
    if label is None:
        raise Http404("No such label.")
    return label


def get_checklist_item_for(user: User, item_id: int) -> ChecklistItem:
    item = (
        ChecklistItem.objects.select_related("task__column__board")
        .filter(pk=item_id, task__column__board__in=boards_for(user))
        .first()
    )
    if item is None:
        raise Http404("No such checklist item.")
    return item


def board_state_version(board: Board) -> int:
    """The board's current version (read before the state it goes with). A board deleted
    since it was loaded is gone: 404, like a missing id."""
    version = Board.objects.filter(pk=board.pk).values_list("version", flat=True).first()
    if version is None:
        raise Http404("No such board.")
    return version


def board_state(board: Board) -> dict:
    """The board page's data as JSON-safe primitives, for a client that saw a version gap.
    The version is read first: the state is at least that new, and every frame carries
    absolute values, so frames after it can be applied on top safely."""
    from . import realtime as board_realtime

    version = board_state_version(board)
    columns = board_columns(board)
    return {
        "board_id": board.pk,
        "version": version,
        "columns": [
            {
                "id": column.pk,
                "name": column.name,
                "position": column.position,
                "task_ids": [task.pk for task in column.tasks.all()],
            }
            for column in columns
        ],
        "tasks": [board_realtime.card(task) for column in columns for task in column.tasks.all()],
        "labels": [board_realtime.label_data(label) for label in board_labels(board)],
        "members": [board_realtime.person(user) for user in board_members(board)],
    }


def checklist_data(task: Task) -> list[dict]:
    return [
        {"id": item.pk, "text": item.text, "done": item.done, "position": item.position}
        for item in checklist_items(task)
    ]


def task_detail_state(task: Task) -> dict:
    """What the task page shows besides the card: checklist items and activity."""
    from . import realtime as board_realtime

    return {
        "task_id": task.pk,
        "checklist": checklist_data(task),
        "activity": [board_realtime.activity_data(entry) for entry in task_activity(task)],
    }

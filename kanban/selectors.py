"""Reads, scoped to a user. `get_<noun>_for` raises Http404 for a missing object and for one
the user may not see alike, so ids leak nothing."""

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from accounts.access import organization_members
from accounts.models import User

from . import access
from .models import Board, Column, Task


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


def board_columns(board: Board) -> list[Column]:
    """The board's columns in order, each with its tasks (and their assignees) prefetched in
    order: two queries whatever the board's size."""
    tasks = Task.objects.select_related("assignee").order_by("position", "pk")
    return list(
        board.columns.order_by("position", "pk").prefetch_related(Prefetch("tasks", queryset=tasks))
    )

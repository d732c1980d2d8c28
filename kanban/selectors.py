"""Reads, scoped to a user. `get_<noun>_for` raises Http404 for a missing object and for one
the user may not see alike, so ids leak nothing."""

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import User

from .models import Board, Column, Task


def boards_for(user: User) -> QuerySet[Board]:
    """Boards the user is a member of."""
    if not user.is_authenticated:
        return Board.objects.none()
    return Board.objects.filter(members=user)


def is_board_member(*, user: User, board_id: int) -> bool:
    return user.is_authenticated and Board.members.through.objects.filter(
        board_id=board_id, user_id=user.pk
    ).exists()


def get_board_for(user: User, board_id: int) -> Board:
    board = boards_for(user).select_related("created_by").filter(pk=board_id).first()
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
        Task.objects.select_related("column__board", "assignee", "created_by")
        .filter(pk=task_id, column__board__in=boards_for(user))
        .first()
    )
    if task is None:
        raise Http404("No such task.")
    return task


def board_members(board: Board) -> QuerySet[User]:
    return board.members.order_by("username")

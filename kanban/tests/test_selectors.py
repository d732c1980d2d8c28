"""kanban.selectors: scoping to the user, and "missing" equals "not yours"."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from kanban import selectors
from tests.factories import BoardFactory, ColumnFactory, TaskFactory

pytestmark = pytest.mark.django_db


def test_boards_for_lists_only_boards_the_user_is_a_member_of(board, alice, carol):
    BoardFactory(created_by=carol)

    assert list(selectors.boards_for(alice)) == [board]


def test_boards_for_anonymous_is_empty(board):
    assert list(selectors.boards_for(AnonymousUser())) == []


def test_get_board_for_member_returns_it(board, bob):
    assert selectors.get_board_for(bob, board.pk) == board


def test_get_board_for_non_member_raises_404(board, carol):
    with pytest.raises(Http404):
        selectors.get_board_for(carol, board.pk)


def test_get_board_for_missing_id_raises_404(alice):
    with pytest.raises(Http404):
        selectors.get_board_for(alice, 999_999)


def test_the_state_of_a_board_deleted_since_it_was_loaded_is_404_not_an_error(board, bob):
    """The board page asks for its state while the board is being deleted: the access check
    found it, the state read does not (a live daphne logged this as a 500)."""
    loaded = selectors.get_board_for(bob, board.pk)
    board.delete()
    with pytest.raises(Http404):
        selectors.board_state(loaded)


def test_get_column_for_non_member_raises_404(todo, carol):
    with pytest.raises(Http404):
        selectors.get_column_for(carol, todo.pk)


def test_get_column_for_member_returns_it_with_board(todo, bob, django_assert_num_queries):
    with django_assert_num_queries(1):
        column = selectors.get_column_for(bob, todo.pk)
        assert column.board.name == "Launch"


def test_get_task_for_non_member_raises_404(todo, carol):
    task = TaskFactory(column=todo)

    with pytest.raises(Http404):
        selectors.get_task_for(carol, task.pk)


def test_get_task_for_missing_id_raises_404(alice):
    with pytest.raises(Http404):
        selectors.get_task_for(alice, 999_999)


def test_get_task_for_member_returns_it(todo, bob):
    task = TaskFactory(column=todo)

    assert selectors.get_task_for(bob, task.pk) == task


def test_is_board_member(board, bob, carol):
    assert selectors.is_board_member(user=bob, board_id=board.pk)
    assert not selectors.is_board_member(user=carol, board_id=board.pk)


def test_board_summaries_count_tasks_and_members_per_board(board, alice, bob, todo, doing):
    TaskFactory.create_batch(2, column=todo)
    TaskFactory(column=doing)
    empty = BoardFactory(created_by=alice, name="Empty")
    BoardFactory(created_by=bob, name="Not alice's")

    summaries = {b.name: b for b in selectors.board_summaries_for(alice)}

    assert set(summaries) == {"Launch", "Empty"}
    assert (summaries["Launch"].task_count, summaries["Launch"].member_count) == (3, 2)
    assert (summaries["Empty"].task_count, summaries["Empty"].member_count) == (0, 1)
    assert summaries["Empty"].pk == empty.pk


def test_board_columns_are_ordered_with_tasks_in_position_order(board, todo, doing):
    TaskFactory(column=todo, title="second", position=1)
    TaskFactory(column=todo, title="first", position=0)
    board.columns.filter(pk=doing.pk).update(position=0)
    board.columns.filter(pk=todo.pk).update(position=1)

    columns = selectors.board_columns(board)

    assert [c.name for c in columns][:2] == ["In Progress", "To Do"]
    assert [t.title for t in columns[1].tasks.all()] == ["first", "second"]


def test_board_columns_query_count_does_not_grow_with_tasks(board, bob, django_assert_num_queries):
    for column in board.columns.all():
        for _ in range(3):
            TaskFactory(column=column, assignee=bob)
    ColumnFactory(board=board)

    # columns, tasks (with counts), their labels
    with django_assert_num_queries(3):
        columns = selectors.board_columns(board)
        names = [t.assignee.username for c in columns for t in c.tasks.all()]
        labels = [list(t.labels.all()) for c in columns for t in c.tasks.all()]
    assert len(names) == 9
    assert labels == [[]] * 9


def test_board_members_are_ordered_by_username(board, alice, bob):
    assert list(selectors.board_members(board)) == [alice, bob]

"""kanban.services: the rules every interface relies on."""

from __future__ import annotations

import datetime
import json
from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from kanban import services
from kanban.models import Board, Column, Task, TaskActivity
from messaging import realtime
from tests.factories import BoardFactory, ColumnFactory, TaskFactory

pytestmark = pytest.mark.django_db


def titles(column: Column) -> list[str]:
    return list(column.tasks.order_by("position").values_list("title", flat=True))


def positions(column: Column) -> list[int]:
    return list(column.tasks.order_by("position").values_list("position", flat=True))


def column_names(board: Board) -> list[str]:
    return list(board.columns.order_by("position").values_list("name", flat=True))


def column_positions(board: Board) -> list[int]:
    return list(board.columns.order_by("position").values_list("position", flat=True))


# --- boards -----------------------------------------------------------------------------


def test_create_board_adds_default_columns_and_creator_as_member(alice):
    board = services.create_board(name="  Launch  ", description="Plan", created_by=alice)

    assert board.name == "Launch"
    assert column_names(board) == ["To Do", "In Progress", "Done"]
    assert column_positions(board) == [0, 1, 2]
    assert list(board.members.all()) == [alice]


def test_create_board_refuses_blank_name(alice):
    with pytest.raises(ValidationError, match="cannot be empty"):
        services.create_board(name="   ", created_by=alice)
    assert not Board.objects.exists()


def test_update_board_by_creator_saves_name_and_description(board, alice):
    services.update_board(board=board, name="Renamed", description="New", updated_by=alice)

    board.refresh_from_db()
    assert (board.name, board.description) == ("Renamed", "New")


def test_update_board_by_non_creator_member_is_refused(board, bob):
    with pytest.raises(ValidationError, match="Only the board's creator"):
        services.update_board(board=board, name="Mine now", description="", updated_by=bob)


def test_delete_board_by_creator_deletes_columns_and_tasks(board, alice, todo, make_tasks):
    make_tasks(todo, 2)

    services.delete_board(board=board, deleted_by=alice)

    assert not Board.objects.exists()
    assert not Column.objects.exists()
    assert not Task.objects.exists()


def test_delete_board_by_non_creator_member_is_refused(board, bob):
    with pytest.raises(ValidationError, match="creator or an organization admin can delete"):
        services.delete_board(board=board, deleted_by=bob)
    assert Board.objects.filter(pk=board.pk).exists()


def test_delete_board_signals_members_sockets_after_commit(
    board, alice, bob, carol, listen, django_capture_on_commit_callbacks
):
    """Every member's sockets are told to re-check access, and only once the deletion has
    committed (a rolled-back delete must not close anyone's socket)."""
    alice_sockets = listen(realtime.user_group(alice.pk))
    bob_sockets = listen(realtime.user_group(bob.pk))
    outsider_sockets = listen(realtime.user_group(carol.pk))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.delete_board(board=board, deleted_by=alice)
    assert (alice_sockets.access_changes(), bob_sockets.access_changes()) == (0, 0)

    for callback in callbacks:
        callback()
    assert (alice_sockets.access_changes(), bob_sockets.access_changes()) == (1, 1)
    assert outsider_sockets.access_changes() == 0


# --- members ----------------------------------------------------------------------------


def test_add_member_by_username(board, alice, carol):
    added = services.add_member(board=board, username=" Carol ", added_by=alice)

    assert added == carol
    assert board.members.filter(pk=carol.pk).exists()


def test_add_member_unknown_username_is_refused(board, alice):
    with pytest.raises(ValidationError, match="No user named “nobody”"):
        services.add_member(board=board, username="nobody", added_by=alice)


def test_add_member_twice_is_refused(board, alice, bob):
    with pytest.raises(ValidationError, match="already a member"):
        services.add_member(board=board, username="bob", added_by=alice)


def test_add_member_by_non_creator_is_refused(board, bob, carol):
    with pytest.raises(ValidationError, match="creator or an organization admin can add members"):
        services.add_member(board=board, username="carol", added_by=bob)
    assert not board.members.filter(pk=carol.pk).exists()


def test_remove_member_unassigns_their_tasks_and_signals_their_sockets(
    board, alice, bob, todo, listen, django_capture_on_commit_callbacks
):
    task = TaskFactory(column=todo, assignee=bob)
    # One channel in both groups hears the events in the order they were sent.
    heard = listen(f"board_{board.pk}", f"user_{bob.pk}")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.remove_member(board=board, user=bob, removed_by=alice)

    assert not board.members.filter(pk=bob.pk).exists()
    task.refresh_from_db()
    assert task.assignee is None
    # member_removed and the unassigned card to the board, then the access signal to bob.
    assert len(callbacks) == 3
    events = heard.events()
    assert [e["type"] for e in events] == [realtime.FORWARD, realtime.FORWARD, "access.changed"]
    assert json.loads(events[0]["text"])["type"] == "member_removed"


def test_remove_member_signal_waits_for_commit(board, alice, bob, listen):
    heard = listen(f"board_{board.pk}", f"user_{bob.pk}")
    services.remove_member(board=board, user=bob, removed_by=alice)
    # The test transaction never commits, so nothing was sent.
    assert heard.events() == []


def test_remove_member_refuses_the_creator(board, alice):
    with pytest.raises(ValidationError, match="creator cannot be removed"):
        services.remove_member(board=board, user=alice, removed_by=alice)


def test_remove_member_by_non_creator_is_refused(board, bob, carol):
    board.members.add(carol)
    with pytest.raises(ValidationError, match="organization admin can remove members"):
        services.remove_member(board=board, user=carol, removed_by=bob)


# --- columns ----------------------------------------------------------------------------


def test_create_column_appends_at_the_end(board, bob):
    column = services.create_column(board=board, name="Review", created_by=bob)

    assert column.position == 3
    assert column_names(board) == ["To Do", "In Progress", "Done", "Review"]


def test_create_column_by_non_member_is_refused(board, carol):
    with pytest.raises(ValidationError, match="not a member"):
        services.create_column(board=board, name="Sneaky", created_by=carol)


def test_rename_column(todo, bob):
    services.rename_column(column=todo, name="Backlog", renamed_by=bob)

    todo.refresh_from_db()
    assert todo.name == "Backlog"


@pytest.mark.parametrize(
    ("name", "position", "expected"),
    [
        ("Done", 0, ["Done", "To Do", "In Progress"]),
        ("To Do", 2, ["In Progress", "Done", "To Do"]),
        ("To Do", 99, ["In Progress", "Done", "To Do"]),
        ("In Progress", 1, ["To Do", "In Progress", "Done"]),
    ],
)
def test_move_column_reorders_and_renumbers(board, alice, name, position, expected):
    services.move_column(column=board.columns.get(name=name), position=position, moved_by=alice)

    assert column_names(board) == expected
    assert column_positions(board) == [0, 1, 2]


def test_move_column_renumbers_columns_with_gaps(board, alice):
    board.columns.filter(name="Done").update(position=10)

    services.move_column(column=board.columns.get(name="Done"), position=1, moved_by=alice)

    assert column_names(board) == ["To Do", "Done", "In Progress"]
    assert column_positions(board) == [0, 1, 2]


def test_delete_empty_column_renumbers_the_rest(board, alice, todo):
    services.delete_column(column=todo, deleted_by=alice)

    assert column_names(board) == ["In Progress", "Done"]
    assert column_positions(board) == [0, 1]


def test_delete_column_with_tasks_is_refused(board, alice, todo, make_tasks):
    make_tasks(todo, 2)

    with pytest.raises(ValidationError, match="still has 2 tasks"):
        services.delete_column(column=todo, deleted_by=alice)
    assert Column.objects.filter(pk=todo.pk).exists()
    assert Task.objects.filter(column=todo).count() == 2


# --- tasks ------------------------------------------------------------------------------


def test_create_task_appends_to_the_column(todo, bob, make_tasks):
    make_tasks(todo, 2)

    task = services.create_task(
        column=todo,
        title=" Ship it ",
        created_by=bob,
        assignee=bob,
        priority=Task.Priority.HIGH,
        due_date=datetime.date(2030, 1, 2),
    )

    assert (task.title, task.position, task.assignee, task.priority) == ("Ship it", 2, bob, "high")
    assert positions(todo) == [0, 1, 2]


def test_create_task_assignee_must_be_member(todo, bob, carol):
    with pytest.raises(ValidationError, match="not a member of this board"):
        services.create_task(column=todo, title="x", created_by=bob, assignee=carol)
    assert not Task.objects.exists()


def test_create_task_by_non_member_is_refused(todo, carol):
    with pytest.raises(ValidationError, match="You are not a member"):
        services.create_task(column=todo, title="x", created_by=carol)


def test_update_task_saves_fields(todo, alice, bob):
    task = TaskFactory(column=todo)

    services.update_task(
        task=task,
        title="New title",
        description="Why",
        assignee=bob,
        priority=Task.Priority.URGENT,
        due_date=datetime.date(2031, 5, 6),
        updated_by=alice,
    )

    task.refresh_from_db()
    assert (task.title, task.description, task.assignee, task.priority, task.due_date) == (
        "New title",
        "Why",
        bob,
        "urgent",
        datetime.date(2031, 5, 6),
    )


def test_update_task_assignee_must_be_member(todo, alice, carol):
    task = TaskFactory(column=todo)

    with pytest.raises(ValidationError, match="not a member of this board"):
        services.update_task(
            task=task,
            title="t",
            description="",
            assignee=carol,
            priority="medium",
            due_date=None,
            updated_by=alice,
        )
    task.refresh_from_db()
    assert task.assignee is None


def test_delete_task_renumbers_its_column(todo, alice, make_tasks):
    tasks = make_tasks(todo, 3)

    services.delete_task(task=tasks[1], deleted_by=alice)

    assert titles(todo) == ["T0", "T2"]
    assert positions(todo) == [0, 1]


# --- move_task --------------------------------------------------------------------------


def test_move_task_within_a_column_down(todo, bob, make_tasks):
    tasks = make_tasks(todo, 4)

    moved = services.move_task(task=tasks[0], to_column=todo, position=2, moved_by=bob)

    assert titles(todo) == ["T1", "T2", "T0", "T3"]
    assert positions(todo) == [0, 1, 2, 3]
    assert (moved.column, moved.position) == (todo, 2)


def test_move_task_within_a_column_up(todo, bob, make_tasks):
    tasks = make_tasks(todo, 4)

    services.move_task(task=tasks[3], to_column=todo, position=0, moved_by=bob)

    assert titles(todo) == ["T3", "T0", "T1", "T2"]
    assert positions(todo) == [0, 1, 2, 3]


def test_move_task_across_columns_renumbers_both(todo, doing, bob, make_tasks):
    source = make_tasks(todo, 3, prefix="A")
    make_tasks(doing, 2, prefix="B")

    moved = services.move_task(task=source[1], to_column=doing, position=1, moved_by=bob)

    assert titles(todo) == ["A0", "A2"]
    assert positions(todo) == [0, 1]
    assert titles(doing) == ["B0", "A1", "B1"]
    assert positions(doing) == [0, 1, 2]
    assert (moved.column_id, moved.position) == (doing.pk, 1)


def test_move_task_to_an_empty_column(todo, done, bob, make_tasks):
    tasks = make_tasks(todo, 2)

    services.move_task(task=tasks[0], to_column=done, position=0, moved_by=bob)

    assert titles(done) == ["T0"]
    assert positions(done) == [0]
    assert positions(todo) == [0]


def test_move_task_position_past_the_end_goes_last(todo, doing, bob, make_tasks):
    tasks = make_tasks(todo, 1, prefix="A")
    make_tasks(doing, 2, prefix="B")

    services.move_task(task=tasks[0], to_column=doing, position=50, moved_by=bob)

    assert titles(doing) == ["B0", "B1", "A0"]
    assert positions(doing) == [0, 1, 2]


def test_move_task_heals_gaps_and_duplicate_positions(todo, doing, bob):
    a = TaskFactory(column=todo, title="a", position=0)
    TaskFactory(column=todo, title="b", position=5)
    TaskFactory(column=todo, title="c", position=5)
    TaskFactory(column=doing, title="x", position=7)

    services.move_task(task=a, to_column=doing, position=0, moved_by=bob)

    assert positions(todo) == [0, 1]
    assert titles(doing) == ["a", "x"]
    assert positions(doing) == [0, 1]


def test_move_task_uses_the_current_column_when_the_caller_is_stale(todo, doing, done, bob):
    """A concurrent move took the task elsewhere after the caller loaded it."""
    task = TaskFactory(column=todo, title="t", position=0)
    Task.objects.filter(pk=task.pk).update(column=doing)

    services.move_task(task=task, to_column=done, position=0, moved_by=bob)

    assert titles(done) == ["t"]
    assert titles(doing) == [] and titles(todo) == []


def test_move_task_refuses_a_column_of_another_board(todo, bob, make_tasks):
    task = make_tasks(todo, 1)[0]
    other_board = BoardFactory(created_by=bob)
    foreign = ColumnFactory(board=other_board)

    with pytest.raises(ValidationError, match="column on its own board"):
        services.move_task(task=task, to_column=foreign, position=0, moved_by=bob)
    task.refresh_from_db()
    assert task.column == todo


def test_move_task_refuses_a_non_member(todo, doing, carol, make_tasks):
    task = make_tasks(todo, 1)[0]

    with pytest.raises(ValidationError, match="not a member"):
        services.move_task(task=task, to_column=doing, position=0, moved_by=carol)
    task.refresh_from_db()
    assert task.column == todo


def test_move_task_refuses_a_negative_position(todo, bob, make_tasks):
    task = make_tasks(todo, 1)[0]

    with pytest.raises(ValidationError, match="negative"):
        services.move_task(task=task, to_column=todo, position=-1, moved_by=bob)


def test_move_task_runs_in_one_transaction(todo, doing, bob, make_tasks):
    """A failure while renumbering the target leaves the source column untouched."""
    tasks = make_tasks(todo, 3, prefix="A")
    make_tasks(doing, 1, prefix="B")
    real_renumber = services._renumber
    calls = []

    def failing_renumber(rows, **kwargs):
        calls.append(rows)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return real_renumber(rows, **kwargs)

    with (
        mock.patch("kanban.services._renumber", failing_renumber),
        pytest.raises(RuntimeError),
    ):
        services.move_task(task=tasks[0], to_column=doing, position=0, moved_by=bob)

    assert titles(todo) == ["A0", "A1", "A2"]
    assert positions(todo) == [0, 1, 2]
    assert titles(doing) == ["B0"]


def test_activity_is_recorded_with_its_change_and_rolled_back_with_it(todo, doing, bob, make_tasks):
    """The move's activity entry and the move share one transaction: a failure after the entry
    is written (building the frame) leaves neither."""
    task = make_tasks(todo, 1, prefix="A")[0]

    with (
        mock.patch("kanban.services.card_of", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        services.move_task(task=task, to_column=doing, position=0, moved_by=bob)
    assert titles(todo) == ["A0"]
    assert not TaskActivity.objects.filter(task=task, kind="moved").exists()

    services.move_task(task=task, to_column=doing, position=0, moved_by=bob)
    entry = TaskActivity.objects.get(task=task, kind="moved")
    assert (entry.actor, entry.data) == (bob, {"from": "To Do", "to": "In Progress"})

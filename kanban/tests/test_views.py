"""kanban views over HTTP: one test per access rule, bad input is a 4xx, never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kanban import services
from kanban.models import Board, Column, Task
from tests.factories import BoardFactory, ColumnFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db


def titles(column: Column) -> list[str]:
    return list(column.tasks.order_by("position").values_list("title", flat=True))


def flash(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def alice_c(client_for, alice):
    return client_for(alice)


@pytest.fixture
def bob_c(client_for, bob):
    return client_for(bob)


@pytest.fixture
def carol_c(client_for, carol):
    """carol is a member of no board in these tests."""
    return client_for(carol)


@pytest.fixture
def task(todo) -> Task:
    return TaskFactory(column=todo, title="Write tests", position=0)


# --- board list -------------------------------------------------------------------------


def test_board_list_shows_my_boards_with_task_counts(alice_c, board, todo, carol):
    TaskFactory.create_batch(2, column=todo)
    BoardFactory(created_by=carol, name="Carol's secret board")

    response = alice_c.get(reverse("kanban:board_list"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Launch" in html and "2 tasks" in html
    assert "Carol&#x27;s secret board" not in html and "Carol's secret board" not in html


def test_board_list_query_count_is_constant(alice_c, alice, django_assert_max_num_queries):
    def add_boards(n: int) -> None:
        for _ in range(n):
            board = services.create_board(name="B", created_by=alice)
            TaskFactory.create_batch(2, column=board.columns.first())

    add_boards(1)
    with django_assert_max_num_queries(6):
        assert alice_c.get(reverse("kanban:board_list")).status_code == 200
    add_boards(10)
    with django_assert_max_num_queries(6):
        assert alice_c.get(reverse("kanban:board_list")).status_code == 200


# --- boards -----------------------------------------------------------------------------


def test_board_create_makes_default_columns_and_redirects_to_board(alice_c, alice):
    response = alice_c.post(reverse("kanban:board_create"), {"name": "Q3", "description": ""})

    board = Board.objects.get(name="Q3")
    assert response.status_code == 302 and response.url == board.get_absolute_url()
    assert board.columns.count() == 3
    assert board.created_by == alice


def test_board_create_blank_name_shows_form_error(alice_c):
    response = alice_c.post(reverse("kanban:board_create"), {"name": "", "description": ""})

    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    assert not Board.objects.exists()


def test_board_detail_shows_columns_and_cards_with_data_attributes(bob_c, board, task, bob):
    Task.objects.filter(pk=task.pk).update(assignee=bob, priority="high")

    response = bob_c.get(reverse("kanban:board_detail", args=[board.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    for column in board.columns.all():
        assert f'<div class="task-list" data-column-id="{column.pk}">' in html
    card = f'<div class="task-card priority-high" data-task-id="{task.pk}" id="task-{task.pk}">'
    assert card in html
    assert "Bob B." in html
    assert task.get_absolute_url() in html
    assert reverse("messaging:room_list", args=[board.pk]) in html
    assert reverse("kanban:board_members", args=[board.pk]) in html
    assert f'data-task-move-url="{reverse("kanban:task_move", args=[0])}"' in html


def test_board_detail_has_no_inline_scripts(bob_c, board):
    html = bob_c.get(reverse("kanban:board_detail", args=[board.pk])).content.decode()

    assert "<script>" not in html
    # Scripts are files; the one <script> without src is the board state as JSON data.
    assert html.count("<script") == html.count("<script src=") + html.count(
        '<script type="module" src='
    ) + html.count('<script id="board-state" type="application/json">')


def test_board_detail_non_member_gets_404(carol_c, board):
    assert carol_c.get(reverse("kanban:board_detail", args=[board.pk])).status_code == 404


def test_board_detail_missing_board_gets_404(alice_c):
    assert alice_c.get(reverse("kanban:board_detail", args=[999_999])).status_code == 404


def test_board_detail_query_count_is_constant(bob_c, board, bob, django_assert_max_num_queries):
    def add_tasks(n: int) -> None:
        for column in board.columns.all():
            TaskFactory.create_batch(n, column=column, assignee=bob)

    # session, user, board, manage check, version, columns, cards, their labels, board
    # labels, members: the same count for any number of cards and columns
    add_tasks(1)
    with django_assert_max_num_queries(12):
        assert bob_c.get(reverse("kanban:board_detail", args=[board.pk])).status_code == 200
    add_tasks(10)
    ColumnFactory(board=board)
    with django_assert_max_num_queries(12):
        assert bob_c.get(reverse("kanban:board_detail", args=[board.pk])).status_code == 200


def test_board_edit_by_creator_saves(alice_c, board):
    response = alice_c.post(
        reverse("kanban:board_edit", args=[board.pk]), {"name": "Launch v2", "description": "d"}
    )

    assert response.status_code == 302
    board.refresh_from_db()
    assert board.name == "Launch v2"


def test_board_edit_by_non_creator_member_is_refused(bob_c, board):
    response = bob_c.post(
        reverse("kanban:board_edit", args=[board.pk]), {"name": "Bob's", "description": ""}
    )

    assert response.status_code == 200
    assert "creator or an organization admin can edit it." in response.content.decode()
    board.refresh_from_db()
    assert board.name == "Launch"


def test_board_edit_non_member_gets_404(carol_c, board):
    assert carol_c.get(reverse("kanban:board_edit", args=[board.pk])).status_code == 404


def test_board_delete_get_asks_for_confirmation_and_deletes_nothing(alice_c, board):
    response = alice_c.get(reverse("kanban:board_delete", args=[board.pk]))

    assert response.status_code == 200
    assert "Are you sure?" in response.content.decode()
    assert Board.objects.filter(pk=board.pk).exists()


def test_board_delete_by_creator_deletes_and_redirects_to_list(alice_c, board):
    response = alice_c.post(reverse("kanban:board_delete", args=[board.pk]))

    assert response.status_code == 302 and response.url == reverse("kanban:board_list")
    assert not Board.objects.filter(pk=board.pk).exists()


def test_board_delete_by_non_creator_member_is_refused(bob_c, board):
    response = bob_c.post(reverse("kanban:board_delete", args=[board.pk]), follow=True)

    assert "Only the board's creator or an organization admin can delete it." in flash(response)
    assert Board.objects.filter(pk=board.pk).exists()


def test_board_delete_non_member_gets_404(carol_c, board):
    assert carol_c.post(reverse("kanban:board_delete", args=[board.pk])).status_code == 404
    assert Board.objects.filter(pk=board.pk).exists()


# --- members ----------------------------------------------------------------------------


def test_board_members_lists_members(bob_c, board):
    response = bob_c.get(reverse("kanban:board_members", args=[board.pk]))

    assert response.status_code == 200
    assert list(response.context["members"].values_list("username", flat=True)) == [
        "alice",
        "bob",
    ]


def test_board_members_creator_adds_by_username(alice_c, board, carol):
    response = alice_c.post(reverse("kanban:board_members", args=[board.pk]), {"username": "carol"})

    assert response.status_code == 302
    assert board.members.filter(pk=carol.pk).exists()


def test_board_members_unknown_username_is_a_400_with_message(alice_c, board):
    response = alice_c.post(reverse("kanban:board_members", args=[board.pk]), {"username": "zed"})

    assert response.status_code == 400
    assert "No user named “zed”." in response.content.decode()


def test_board_members_non_creator_cannot_add(bob_c, board, carol):
    response = bob_c.post(reverse("kanban:board_members", args=[board.pk]), {"username": "carol"})

    assert response.status_code == 400
    assert "creator or an organization admin can add members." in response.content.decode()
    assert not board.members.filter(pk=carol.pk).exists()


def test_board_members_non_member_gets_404(carol_c, board):
    assert carol_c.get(reverse("kanban:board_members", args=[board.pk])).status_code == 404


def test_member_remove_by_creator(alice_c, board, bob):
    response = alice_c.post(reverse("kanban:member_remove", args=[board.pk, bob.pk]))

    assert response.status_code == 302
    assert not board.members.filter(pk=bob.pk).exists()


def test_member_removal_offers_to_add_them_back_and_undo_does(alice_c, board, bob):
    response = alice_c.post(reverse("kanban:member_remove", args=[board.pk, bob.pk]), follow=True)

    html = response.content.decode()
    assert response.status_code == 200
    assert f"{bob.get_display_name()} was removed from the board." in html
    assert "Undo: add" in html and f'value="{bob.username}"' in html

    undo = alice_c.post(
        reverse("kanban:board_members", args=[board.pk]), {"username": bob.username}
    )

    assert undo.status_code == 302
    assert board.members.filter(pk=bob.pk).exists()


@pytest.mark.parametrize("removed", ["member", "outsider", "²", "abc", ""])
def test_members_page_offers_undo_only_for_someone_who_can_be_added_back(
    alice_c, board, bob, removed
):
    outsider = UserFactory(username="zoe")  # in no organization of alice's
    value = {"member": str(bob.pk), "outsider": str(outsider.pk)}.get(removed, removed)

    response = alice_c.get(reverse("kanban:board_members", args=[board.pk]), {"removed": value})

    assert response.status_code == 200
    assert "Undo: add" not in response.content.decode()


def test_members_page_offers_no_undo_to_someone_who_cannot_add(bob_c, board, carol):
    response = bob_c.get(reverse("kanban:board_members", args=[board.pk]), {"removed": carol.pk})

    assert response.status_code == 200
    assert "Undo: add" not in response.content.decode()


def test_member_remove_cannot_remove_the_creator(alice_c, board, alice):
    response = alice_c.post(reverse("kanban:member_remove", args=[board.pk, alice.pk]), follow=True)

    assert "The board's creator cannot be removed." in flash(response)
    assert board.members.filter(pk=alice.pk).exists()


def test_member_remove_by_non_creator_is_refused(bob_c, board, alice, carol):
    board.members.add(carol)

    response = bob_c.post(reverse("kanban:member_remove", args=[board.pk, carol.pk]), follow=True)

    assert "Only the board's creator or an organization admin can remove members." in flash(
        response
    )
    assert board.members.filter(pk=carol.pk).exists()


def test_member_remove_of_a_non_member_user_gets_404(alice_c, board, carol):
    url = reverse("kanban:member_remove", args=[board.pk, carol.pk])
    assert alice_c.post(url).status_code == 404


def test_member_remove_is_post_only(alice_c, board, bob):
    response = alice_c.get(reverse("kanban:member_remove", args=[board.pk, bob.pk]))

    assert response.status_code == 405
    assert board.members.filter(pk=bob.pk).exists()


# --- columns ----------------------------------------------------------------------------


def test_column_create_appends_a_column(bob_c, board):
    response = bob_c.post(reverse("kanban:column_create", args=[board.pk]), {"name": "Review"})

    assert response.status_code == 302
    assert board.columns.order_by("position").last().name == "Review"


@pytest.mark.parametrize("name", ["", "   ", "\t \n"])
def test_column_create_blank_name_is_refused_with_a_message_naming_the_field(bob_c, board, name):
    response = bob_c.post(
        reverse("kanban:column_create", args=[board.pk]), {"name": name}, follow=True
    )

    assert flash(response) == ["Name can't be blank."]
    assert board.columns.count() == 3


def test_column_create_non_member_gets_404(carol_c, board):
    response = carol_c.post(reverse("kanban:column_create", args=[board.pk]), {"name": "x"})

    assert response.status_code == 404
    assert board.columns.count() == 3


def test_column_create_is_post_only(bob_c, board):
    assert bob_c.get(reverse("kanban:column_create", args=[board.pk])).status_code == 405


def test_column_rename(bob_c, todo):
    response = bob_c.post(reverse("kanban:column_rename", args=[todo.pk]), {"name": "Backlog"})

    assert response.status_code == 302
    todo.refresh_from_db()
    assert todo.name == "Backlog"


def test_column_rename_non_member_gets_404(carol_c, todo):
    response = carol_c.post(reverse("kanban:column_rename", args=[todo.pk]), {"name": "Mine"})

    assert response.status_code == 404
    todo.refresh_from_db()
    assert todo.name == "To Do"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"direction": "right"}, ["In Progress", "To Do", "Done"]),
        ({"direction": "left"}, ["To Do", "In Progress", "Done"]),
        ({"position": "2"}, ["In Progress", "Done", "To Do"]),
    ],
)
def test_column_move(bob_c, board, todo, data, expected):
    response = bob_c.post(reverse("kanban:column_move", args=[todo.pk]), data)

    assert response.status_code == 302
    assert list(board.columns.order_by("position").values_list("name", flat=True)) == expected


@pytest.mark.parametrize("data", [{"position": "abc"}, {"position": "-1"}, {"direction": "up"}, {}])
def test_column_move_bad_input_is_refused_with_message(bob_c, board, todo, data):
    response = bob_c.post(reverse("kanban:column_move", args=[todo.pk]), data, follow=True)

    assert response.status_code == 200
    assert flash(response)
    assert board.columns.order_by("position").first() == todo


def test_column_move_non_member_gets_404(carol_c, todo):
    response = carol_c.post(reverse("kanban:column_move", args=[todo.pk]), {"direction": "right"})
    assert response.status_code == 404


def test_column_delete_empty_column(bob_c, board, done):
    response = bob_c.post(reverse("kanban:column_delete", args=[done.pk]))

    assert response.status_code == 302
    assert not Column.objects.filter(pk=done.pk).exists()


def test_column_delete_with_tasks_is_refused_with_message(bob_c, todo, task):
    response = bob_c.post(reverse("kanban:column_delete", args=[todo.pk]), follow=True)

    assert any("still has 1 task" in m for m in flash(response))
    assert Column.objects.filter(pk=todo.pk).exists()


def test_column_delete_non_member_gets_404(carol_c, done):
    assert carol_c.post(reverse("kanban:column_delete", args=[done.pk])).status_code == 404
    assert Column.objects.filter(pk=done.pk).exists()


# --- tasks ------------------------------------------------------------------------------


def test_task_create_get_shows_form_with_members_as_assignees(bob_c, todo, carol):
    response = bob_c.get(reverse("kanban:task_create", args=[todo.pk]))

    assert response.status_code == 200
    assignees = response.context["form"].fields["assignee"].queryset
    assert set(assignees.values_list("username", flat=True)) == {"alice", "bob"}


def test_task_create_with_details(bob_c, todo, alice):
    response = bob_c.post(
        reverse("kanban:task_create", args=[todo.pk]),
        {
            "title": "Deploy",
            "description": "To prod",
            "assignee": alice.pk,
            "priority": "urgent",
            "due_date": "2030-01-31",
        },
    )

    assert response.status_code == 302 and response.url == todo.board.get_absolute_url()
    task = Task.objects.get(title="Deploy")
    assert (task.assignee, task.priority, str(task.due_date)) == (alice, "urgent", "2030-01-31")


def test_task_create_quick_add_with_only_a_title_defaults_to_medium(bob_c, todo, bob):
    response = bob_c.post(reverse("kanban:task_create", args=[todo.pk]), {"title": "Quick"})

    assert response.status_code == 302
    task = Task.objects.get(title="Quick")
    assert (task.priority, task.assignee, task.created_by) == ("medium", None, bob)


def test_task_create_assignee_who_is_not_a_member_is_a_400(bob_c, todo, carol):
    response = bob_c.post(
        reverse("kanban:task_create", args=[todo.pk]), {"title": "x", "assignee": carol.pk}
    )

    assert response.status_code == 400
    assert response.context["form"].errors["assignee"]
    assert not Task.objects.exists()


def test_task_create_non_member_gets_404(carol_c, todo):
    response = carol_c.post(reverse("kanban:task_create", args=[todo.pk]), {"title": "x"})

    assert response.status_code == 404
    assert not Task.objects.exists()


def test_task_detail_shows_task_and_comment_thread(bob_c, task):
    response = bob_c.get(reverse("kanban:task_detail", args=[task.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Write tests" in html
    assert 'id="comment-thread"' in html


def test_task_detail_non_member_gets_404(carol_c, task):
    assert carol_c.get(reverse("kanban:task_detail", args=[task.pk])).status_code == 404


def test_task_detail_missing_task_gets_404(alice_c):
    assert alice_c.get(reverse("kanban:task_detail", args=[999_999])).status_code == 404


def test_task_edit_saves(bob_c, task, bob):
    response = bob_c.post(
        reverse("kanban:task_edit", args=[task.pk]),
        {"title": "Write more tests", "assignee": bob.pk, "priority": "low", "due_date": ""},
    )

    assert response.status_code == 302 and response.url == task.get_absolute_url()
    task.refresh_from_db()
    assert (task.title, task.assignee, task.priority) == ("Write more tests", bob, "low")


def test_task_edit_invalid_date_is_a_400(bob_c, task):
    response = bob_c.post(
        reverse("kanban:task_edit", args=[task.pk]),
        {"title": "t", "priority": "low", "due_date": "not-a-date"},
    )

    assert response.status_code == 400
    assert response.context["form"].errors["due_date"]


def test_task_edit_non_member_gets_404(carol_c, task):
    response = carol_c.post(
        reverse("kanban:task_edit", args=[task.pk]), {"title": "mine", "priority": "low"}
    )

    assert response.status_code == 404
    task.refresh_from_db()
    assert task.title == "Write tests"


def test_task_delete_get_asks_for_confirmation(bob_c, task):
    response = bob_c.get(reverse("kanban:task_delete", args=[task.pk]))

    assert response.status_code == 200
    assert Task.objects.filter(pk=task.pk).exists()


def test_task_delete_post_deletes_and_redirects_to_board(bob_c, task, board):
    response = bob_c.post(reverse("kanban:task_delete", args=[task.pk]))

    assert response.status_code == 302 and response.url == board.get_absolute_url()
    assert not Task.objects.filter(pk=task.pk).exists()


def test_task_delete_non_member_gets_404(carol_c, task):
    assert carol_c.post(reverse("kanban:task_delete", args=[task.pk])).status_code == 404
    assert Task.objects.filter(pk=task.pk).exists()


# --- task_move (the drag-and-drop endpoint) ---------------------------------------------

FETCH = {"HTTP_X_REQUESTED_WITH": "fetch", "HTTP_ACCEPT": "application/json"}


def move(client, task, **data):
    return client.post(reverse("kanban:task_move", args=[task.pk]), data, **FETCH)


def test_task_move_across_columns_returns_json(bob_c, todo, doing):
    a, b = TaskFactory(column=todo, title="a", position=0), TaskFactory(column=todo, title="b")
    TaskFactory(column=doing, title="x", position=0)

    response = move(bob_c, a, column=doing.pk, position=1)

    assert response.status_code == 200
    assert response.json() == {"ok": True, "task_id": a.pk, "column_id": doing.pk, "position": 1}
    assert titles(doing) == ["x", "a"]
    assert titles(todo) == ["b"]
    b.refresh_from_db()
    assert b.position == 0


def test_task_move_within_a_column(bob_c, todo):
    tasks = [TaskFactory(column=todo, title=t, position=i) for i, t in enumerate("abc")]

    response = move(bob_c, tasks[2], column=todo.pk, position=0)

    assert response.status_code == 200
    assert titles(todo) == ["c", "a", "b"]


def test_task_move_without_position_goes_to_the_bottom(bob_c, task, doing):
    TaskFactory(column=doing, title="x", position=0)

    assert move(bob_c, task, column=doing.pk).status_code == 200
    assert titles(doing) == ["x", "Write tests"]


@pytest.mark.parametrize(
    "data",
    [
        {"position": "0"},
        {"column": "abc", "position": "0"},
        {"column": "COLUMN", "position": "first"},
        {"column": "COLUMN", "position": "-3"},
        {"column": "COLUMN", "position": "1.5"},
    ],
)
def test_task_move_bad_input_is_a_400_json_error(bob_c, task, doing, data):
    data = {k: (str(doing.pk) if v == "COLUMN" else v) for k, v in data.items()}

    response = move(bob_c, task, **data)

    assert response.status_code == 400
    assert response.json()["error"]
    task.refresh_from_db()
    assert task.column_id != doing.pk


def test_task_move_to_a_column_of_another_board_of_mine_is_a_400(bob_c, bob, task):
    my_other_board = services.create_board(name="Bob's own", created_by=bob)
    foreign = my_other_board.columns.first()

    response = move(bob_c, task, column=foreign.pk, position=0)

    assert response.status_code == 400
    assert response.json() == {"error": "A task can only move to a column on its own board."}
    assert not foreign.tasks.exists()


def test_task_move_to_a_column_of_a_board_i_am_not_on_gets_404(bob_c, task, carol):
    foreign = ColumnFactory(board=BoardFactory(created_by=carol))

    assert move(bob_c, task, column=foreign.pk, position=0).status_code == 404
    assert not foreign.tasks.exists()


def test_task_move_to_a_missing_column_gets_404(bob_c, task):
    assert move(bob_c, task, column=999_999, position=0).status_code == 404


def test_task_move_non_member_gets_404(carol_c, task, doing):
    assert move(carol_c, task, column=doing.pk, position=0).status_code == 404
    task.refresh_from_db()
    assert task.column_id != doing.pk


def test_task_move_is_post_only(bob_c, task):
    assert bob_c.get(reverse("kanban:task_move", args=[task.pk])).status_code == 405


def test_task_move_requires_csrf_token(bob, task, doing):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)

    response = move(client, task, column=doing.pk, position=0)

    assert response.status_code == 403
    task.refresh_from_db()
    assert task.column_id != doing.pk


def test_task_move_plain_form_post_redirects_to_task_with_message(bob_c, task, done):
    response = bob_c.post(
        reverse("kanban:task_move", args=[task.pk]), {"column": done.pk}, follow=True
    )

    assert response.redirect_chain[-1][0] == task.get_absolute_url()
    assert "Moved to “Done”." in flash(response)
    assert titles(done) == ["Write tests"]


def test_removed_member_loses_access_at_once(alice_c, client_for, board, task):
    bob = UserFactory(username="bob")
    bob_client = client_for(bob)
    assert bob_client.get(reverse("kanban:task_detail", args=[task.pk])).status_code == 200

    alice_c.post(reverse("kanban:member_remove", args=[board.pk, bob.pk]))

    assert bob_client.get(reverse("kanban:task_detail", args=[task.pk])).status_code == 404
    assert bob_client.get(reverse("kanban:board_detail", args=[board.pk])).status_code == 404

"""The kanban admin pages render for a superuser, with board data on them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditLog
from kanban import services
from kanban.models import Task
from tests.admin_forms import change_form_data
from tests.factories import OrganizationFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client_for):
    return client_for(UserFactory(username="root", is_staff=True, is_superuser=True))


@pytest.fixture
def task(todo, bob):
    return TaskFactory(column=todo, title="Ship the admin", assignee=bob, priority="high")


@pytest.mark.parametrize("model", ["board", "column", "task"])
def test_changelist_renders_for_superuser(admin_client_, task, model):
    response = admin_client_.get(reverse(f"admin:kanban_{model}_changelist"))

    assert response.status_code == 200


@pytest.mark.parametrize("model", ["board", "column", "task"])
def test_changelist_search_renders(admin_client_, task, model):
    response = admin_client_.get(reverse(f"admin:kanban_{model}_changelist"), {"q": "Launch"})

    assert response.status_code == 200


def test_board_changelist_shows_member_count(admin_client_, board, task):
    response = admin_client_.get(reverse("admin:kanban_board_changelist"))

    changelist = response.context["cl"]
    assert changelist.model_admin.member_count(changelist.result_list[0]) == 2


def test_board_change_page_lists_columns_with_their_tasks(admin_client_, board, task):
    response = admin_client_.get(reverse("admin:kanban_board_change", args=[board.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "In Progress" in html
    assert "Ship the admin" in html
    assert reverse("admin:kanban_task_change", args=[task.pk]) in html


def test_column_change_page_lists_its_tasks_read_only(admin_client_, todo, task):
    response = admin_client_.get(reverse("admin:kanban_column_change", args=[todo.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Ship the admin" in html
    assert 'name="tasks-0-position"' not in html  # positions change only through move_task


def test_task_change_page_renders(admin_client_, task):
    response = admin_client_.get(reverse("admin:kanban_task_change", args=[task.pk]))

    assert response.status_code == 200


def test_admin_is_refused_to_non_staff(client_for, alice):
    response = client_for(alice).get(reverse("admin:kanban_board_changelist"))

    assert response.status_code == 302
    assert "/admin/login/" in response.url


# --- writes go through the services -------------------------------------------------------


def post_change(client, model: str, obj, **changes):
    url = reverse(f"admin:kanban_{model}_change", args=[obj.pk])
    return client.post(url, change_form_data(client.get(url).content.decode(), **changes))


def titles_and_positions(column) -> list[tuple[str, int]]:
    return list(column.tasks.order_by("position").values_list("title", "position"))


def test_moving_a_task_in_the_admin_keeps_both_columns_positions_dense(
    admin_client_, todo, doing, make_tasks
):
    make_tasks(todo, 3, "T")
    make_tasks(doing, 2, "D")
    moving = Task.objects.get(title="T1")

    response = post_change(admin_client_, "task", moving, column=doing.pk, position=0)

    assert response.status_code == 302
    assert titles_and_positions(todo) == [("T0", 0), ("T2", 1)]
    assert titles_and_positions(doing) == [("T1", 0), ("D0", 1), ("D1", 2)]


def test_moving_a_task_to_another_boards_column_in_the_admin_is_refused(admin_client_, todo, alice):
    task = TaskFactory(column=todo, title="Stay", position=0)
    elsewhere = services.create_board(name="Elsewhere", created_by=alice).columns.first()

    response = post_change(admin_client_, "task", task, column=elsewhere.pk)

    assert response.status_code == 200
    assert "only move to a column on its own board" in response.content.decode()
    assert Task.objects.get(pk=task.pk).column_id == todo.pk


def test_deleting_a_task_in_the_admin_renumbers_its_column_and_is_audited(
    admin_client_, todo, make_tasks
):
    make_tasks(todo, 3, "T")
    middle = Task.objects.get(title="T1")

    response = admin_client_.post(
        reverse("admin:kanban_task_delete", args=[middle.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert titles_and_positions(todo) == [("T0", 0), ("T2", 1)]
    assert AuditLog.objects.filter(action="task.deleted", target_id=middle.pk).exists()


def test_board_admin_cannot_add_someone_outside_the_organization(admin_client_, board, alice, bob):
    outsider = UserFactory(username="mallory")
    OrganizationFactory(owner=outsider)

    response = post_change(admin_client_, "board", board, members=[alice.pk, bob.pk, outsider.pk])

    assert response.status_code == 200
    assert "Only members of" in response.content.decode()
    assert not board.members.filter(pk=outsider.pk).exists()


def test_board_admin_removes_a_member_through_the_service(admin_client_, board, alice, bob, todo):
    TaskFactory(column=todo, title="Bob's", assignee=bob)

    response = post_change(admin_client_, "board", board, members=[alice.pk])

    assert response.status_code == 302
    assert not board.members.filter(pk=bob.pk).exists()
    assert Task.objects.get(title="Bob's").assignee is None  # the service's side effect
    entry = AuditLog.objects.get(action="board.member_removed")
    assert entry.changes == {"user": "bob"}
    assert entry.actor.username == "root"


def test_board_organization_and_creator_are_read_only_in_the_admin(admin_client_, board, bob):
    other = OrganizationFactory(owner=bob)

    post_change(admin_client_, "board", board, organization=other.pk, created_by=bob.pk)

    board.refresh_from_db()
    assert board.organization_id != other.pk
    assert board.created_by.username == "alice"


@pytest.mark.parametrize("model", ["board", "column", "task"])
def test_nothing_is_added_in_the_admin(admin_client_, model):
    assert admin_client_.get(reverse(f"admin:kanban_{model}_add")).status_code == 403

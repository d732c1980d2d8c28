"""The kanban admin pages render for a superuser, with board data on them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import TaskFactory, UserFactory

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


def test_column_change_page_has_task_inline(admin_client_, todo, task):
    response = admin_client_.get(reverse("admin:kanban_column_change", args=[todo.pk]))

    assert response.status_code == 200
    assert 'value="Ship the admin"' in response.content.decode()


def test_task_change_page_renders(admin_client_, task):
    response = admin_client_.get(reverse("admin:kanban_task_change", args=[task.pk]))

    assert response.status_code == 200


def test_admin_is_refused_to_non_staff(client_for, alice):
    response = client_for(alice).get(reverse("admin:kanban_board_changelist"))

    assert response.status_code == 302
    assert "/admin/login/" in response.url

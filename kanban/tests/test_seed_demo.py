"""`manage.py seed_demo` creates the demo data once; running it again changes nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts import org_services
from accounts.models import Membership, User
from kanban.management.commands.seed_demo import BOARD_NAME, DEMO_PASSWORD
from kanban.models import Board, Column, Task
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def snapshot() -> dict:
    return {
        "users": list(User.objects.order_by("pk").values("pk", "username", "password")),
        "boards": list(Board.objects.order_by("pk").values("pk", "name")),
        "members": sorted(Board.members.through.objects.values_list("board_id", "user_id")),
        "columns": list(Column.objects.order_by("pk").values("pk", "name", "position")),
        "tasks": list(
            Task.objects.order_by("pk").values(
                "pk", "title", "column_id", "position", "assignee_id", "priority", "due_date"
            )
        ),
    }


def test_seed_demo_creates_users_board_columns_and_tasks():
    output = seed()

    alice = User.objects.get(username="alice")
    assert alice.is_staff and alice.is_superuser and alice.check_password(DEMO_PASSWORD)
    assert not User.objects.get(username="bob").is_staff
    board = Board.objects.get(name=BOARD_NAME)
    assert set(board.members.values_list("username", flat=True)) == {"alice", "bob", "carol"}
    assert list(board.columns.values_list("name", flat=True)) == ["To Do", "In Progress", "Done"]
    tasks = Task.objects.filter(column__board=board)
    assert tasks.count() == 6
    assert tasks.filter(assignee__isnull=False).count() >= 4
    assert tasks.filter(due_date__isnull=False).count() >= 4
    assert {t.priority for t in tasks} >= {"low", "medium", "high", "urgent"}
    for column in board.columns.all():
        positions = list(column.tasks.values_list("position", flat=True))
        assert positions == list(range(len(positions)))
    assert DEMO_PASSWORD in output and "alice" in output and "superuser" in output


def test_seed_demo_twice_changes_nothing():
    seed()
    before = snapshot()

    output = seed()

    assert snapshot() == before
    assert "nothing changed" in output


def test_seed_demo_keeps_a_changed_password_and_moved_tasks():
    seed()
    alice = User.objects.get(username="alice")
    alice.set_password("alice-own-pw")
    alice.save(update_fields=["password"])
    task = Task.objects.get(title="Invite the beta testers")
    done = Column.objects.get(board__name=BOARD_NAME, name="Done")
    Task.objects.filter(pk=task.pk).update(column=done)

    seed()

    alice.refresh_from_db()
    assert alice.check_password("alice-own-pw")
    assert Task.objects.get(pk=task.pk).column == done
    assert Task.objects.filter(title="Invite the beta testers").count() == 1


def test_seed_demo_restores_deleted_pieces_without_duplicating():
    seed()
    Task.objects.filter(title="Pick the product name").delete()
    Board.objects.get(name=BOARD_NAME).members.remove(User.objects.get(username="carol"))

    output = seed()

    assert Task.objects.filter(title="Pick the product name").count() == 1
    assert Task.objects.filter(column__board__name=BOARD_NAME).count() == 6
    assert Board.objects.get(name=BOARD_NAME).members.count() == 3
    assert "membership of carol" in output


def test_seed_demo_leaves_someone_elses_organization_under_its_slug_alone():
    """An "acme" that is not alice's: seed_demo says so and writes no membership into it."""
    mallory = UserFactory(username="mallory")
    acme = org_services.create_organization(name="Acme", created_by=mallory)
    assert acme.slug == "acme"

    with pytest.raises(CommandError, match="leaves it alone"):
        seed()

    assert list(
        Membership.objects.filter(organization=acme).values_list("user__username", flat=True)
    ) == ["mallory"]

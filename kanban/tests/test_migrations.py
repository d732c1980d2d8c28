"""Upgrading a database that holds today's data: every board lands in an organization with
all its members, and nobody can read less (or more) than before."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("accounts", "0001_initial"), ("kanban", "0001_initial"), ("messaging", "0001_initial")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_apps(transactional_db):
    """The schema as it was before organizations, empty; migrated back to the latest at the
    end so the other tests find the current schema."""
    apps = _migrate(BEFORE)
    yield apps
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_upgrade_puts_every_board_in_an_organization_with_all_its_members(old_apps):
    User = old_apps.get_model("accounts", "User")
    Board = old_apps.get_model("kanban", "Board")
    Column = old_apps.get_model("kanban", "Column")
    Task = old_apps.get_model("kanban", "Task")
    ChatRoom = old_apps.get_model("messaging", "ChatRoom")
    ChatMessage = old_apps.get_model("messaging", "ChatMessage")

    alice, bob, carol, dave, _loner = (
        User.objects.create(username=name, display_name=name.title())
        for name in ("alice", "bob", "carol", "dave", "loner")
    )
    # "bob.x" and "bob-x" slugify alike: the migration must still give each its own slug.
    dotted = User.objects.create(username="bob.x")
    dashed = User.objects.create(username="bobx")
    launch = Board.objects.create(name="Launch", created_by=alice)
    launch.members.add(alice, bob, carol)
    ops = Board.objects.create(name="Ops", created_by=alice)
    ops.members.add(alice, dave)
    side = Board.objects.create(name="Side project", created_by=bob)
    side.members.add(bob)
    Board.objects.create(name="Dotted", created_by=dotted).members.add(dotted)
    Board.objects.create(name="Dashed", created_by=dashed).members.add(dashed)
    column = Column.objects.create(board=launch, name="To Do", position=0)
    task = Task.objects.create(column=column, title="Ship", created_by=alice, assignee=bob)
    room = ChatRoom.objects.create(board=launch, name="general", created_by=alice)
    room.members.add(alice, bob)
    ChatMessage.objects.create(chat_room=room, author=bob, content="hello")

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    from accounts.models import Membership, User
    from kanban import access as board_access
    from kanban.models import Board
    from messaging import access as room_access
    from messaging.models import ChatMessage

    users = {u.username: u for u in User.objects.all()}
    launch, ops, side = (Board.objects.get(name=n) for n in ("Launch", "Ops", "Side project"))
    # alice's boards share her organization, which holds everyone on them; she owns it.
    assert launch.organization_id == ops.organization_id
    alices = launch.organization
    roles = dict(
        Membership.objects.filter(organization=alices).values_list("user__username", "role")
    )
    assert roles == {"alice": "owner", "bob": "member", "carol": "member", "dave": "member"}
    # bob's own board is in an organization of his own.
    assert side.organization_id != alices.pk
    assert side.organization.memberships.get().user == users["bob"]
    assert side.organization.memberships.get().role == "owner"
    # Someone on no board gets a personal organization, as sign-up now gives everyone.
    assert Membership.objects.get(user=users["loner"]).role == "owner"
    # Colliding slugs were made unique.
    slugs = [b.organization.slug for b in Board.objects.filter(name__in=["Dotted", "Dashed"])]
    assert len(set(slugs)) == 2

    # Everyone reads exactly what they read before, and the data is intact.
    assert set(board_access.board_readers(launch.pk).values_list("username", flat=True)) == {
        "alice",
        "bob",
        "carol",
    }
    assert set(board_access.board_readers(ops.pk).values_list("username", flat=True)) == {
        "alice",
        "dave",
    }
    assert not board_access.can_read_board(users["dave"], launch.pk)
    assert set(room_access.room_readers(room.pk).values_list("username", flat=True)) == {
        "alice",
        "bob",
    }
    assert launch.columns.get().tasks.get().pk == task.pk
    assert ChatMessage.objects.get(chat_room_id=room.pk).content == "hello"

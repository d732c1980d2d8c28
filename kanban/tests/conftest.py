"""Fixtures for the kanban tests: a board created through the service (so it has the default
columns), owned by alice with bob as a member, in alice's organization; carol is in the
organization but on no board."""

from __future__ import annotations

import pytest

from kanban import services
from kanban.models import Board, Column, Task
from tests.factories import TaskFactory, add_board_members, join_organization


@pytest.fixture
def board(alice, bob, carol) -> Board:
    board = services.create_board(name="Launch", description="", created_by=alice)
    add_board_members(board, bob)
    join_organization(board.organization, carol)
    return board


@pytest.fixture
def todo(board) -> Column:
    return board.columns.get(name="To Do")


@pytest.fixture
def doing(board) -> Column:
    return board.columns.get(name="In Progress")


@pytest.fixture
def done(board) -> Column:
    return board.columns.get(name="Done")


@pytest.fixture
def make_tasks():
    """Factory: n tasks at positions 0..n-1 in a column, titled by prefix and index."""

    def make(column: Column, n: int, prefix: str = "T") -> list[Task]:
        return [TaskFactory(column=column, title=f"{prefix}{i}", position=i) for i in range(n)]

    return make


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, settings):
    """Factories hash a password per user and the production hasher dominates these tests'
    run time. Browser tests keep it: the daphne child process must verify their passwords."""
    if request.node.get_closest_marker("browser") is None:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

"""Fixtures for the messaging tests: a board (alice creates it; bob and carol are members),
a room on it with alice and bob (carol is on the board but not in the room), a task on the
board, and dave, who belongs to nothing."""

from __future__ import annotations

import pytest

from tests.factories import BoardFactory, ChatRoomFactory, ColumnFactory, TaskFactory, UserFactory


@pytest.fixture
def dave(db):
    return UserFactory(username="dave", display_name="Dave D.")


@pytest.fixture
def board(alice, bob, carol):
    return BoardFactory(name="Launch", created_by=alice, members=[bob, carol])


@pytest.fixture
def room(board, alice, bob):
    return ChatRoomFactory(board=board, name="general", created_by=alice, members=[bob])


@pytest.fixture
def task(board):
    return TaskFactory(column=ColumnFactory(board=board), title="Ship it")


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, settings):
    """Factories hash a password per user; the production hasher makes that the bulk of
    these tests' run time and proves nothing here. Browser tests keep the real hashers: the
    daphne child process must be able to check the passwords."""
    if request.node.get_closest_marker("browser"):
        return
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

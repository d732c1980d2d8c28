"""Fixtures for the messaging tests: a board (alice creates it; bob and carol are members),
a room on it with alice and bob (carol is on the board but not in the room), a task on the
board, and dave, who belongs to nothing; `worker_factory` for the real-worker tiers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.db import connection

from tests.factories import BoardFactory, ChatRoomFactory, ColumnFactory, TaskFactory, UserFactory
from tests.live import CeleryWorker, database_url_for, worker_env


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


@pytest.fixture
def worker_factory(transactional_db, broker_url) -> Iterator[Callable[..., CeleryWorker]]:
    """Factory for real Celery worker processes on this test's Redis DB (`broker_url`) and
    the test database; all are stopped before the database is flushed."""
    database_url = database_url_for(connection.settings_dict)
    workers: list[CeleryWorker] = []

    def make(**extra_env: str) -> CeleryWorker:
        env = worker_env(broker_url=broker_url, database_url=database_url, **extra_env)
        worker = CeleryWorker(env)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.stop()

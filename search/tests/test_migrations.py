"""Adding search to an installation that already has data indexes that data."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("search", None)]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.fixture
def without_search(transactional_db):
    _migrate(BEFORE)
    yield
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_the_migration_indexes_existing_messages_comments_and_tasks(
    without_search, alice, bob, client_for
):
    from tests.factories import (
        BoardFactory,
        ChatMessageFactory,
        ChatRoomFactory,
        ColumnFactory,
        TaskFactory,
        TaskThreadCommentFactory,
    )

    board = BoardFactory(name="Launch", created_by=alice, members=[bob])
    room = ChatRoomFactory(board=board, name="general", created_by=alice, members=[bob])
    message = ChatMessageFactory(chat_room=room, author=bob, content="legacy heron message")
    task = TaskFactory(
        column=ColumnFactory(board=board), title="Heron task", description="with a description"
    )
    comment = TaskThreadCommentFactory(task=task, author=alice, content="legacy heron comment")

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    body = (
        client_for(alice)
        .get("/search/", {"q": "heron", "order": "newest"}, HTTP_ACCEPT="application/json")
        .json()
    )
    assert sorted((r["type"], r["id"]) for r in body["results"]) == sorted(
        [("message", message.pk), ("comment", comment.pk), ("task", task.pk)]
    )
    description = (
        client_for(alice)
        .get("/search/", {"q": "description"}, HTTP_ACCEPT="application/json")
        .json()
    )
    assert [(r["type"], r["id"]) for r in description["results"]] == [("task", task.pk)]

"""Fixtures for the search tests: a board "Launch" (alice creates it; bob and carol are
members) with a room #general (alice and bob; carol is on the board but not in the room) and
a task, a second board "Side" of alice's alone, and dave, who belongs to nothing.

The suite runs on whichever engine the database is: SQLite FTS5 in the default tier, PostgreSQL
full-text search with DATABASE_URL=postgres://... (the same tests, unchanged)."""

from __future__ import annotations

import pytest

from kanban import services as kanban_services
from messaging.services.posting import post_chat_message, post_task_comment
from tests.factories import BoardFactory, ChatRoomFactory, ColumnFactory, UserFactory


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, settings):
    if request.node.get_closest_marker("browser"):
        return
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def dave(db):
    return UserFactory(username="dave", display_name="Dave D.")


@pytest.fixture
def board(alice, bob, carol):
    return BoardFactory(name="Launch", created_by=alice, members=[bob, carol])


@pytest.fixture
def column(board):
    return ColumnFactory(board=board, name="To Do")


@pytest.fixture
def room(board, alice, bob):
    return ChatRoomFactory(board=board, name="general", created_by=alice, members=[bob])


@pytest.fixture
def task(column, alice):
    return kanban_services.create_task(column=column, title="Ship the release", created_by=alice)


@pytest.fixture
def say():
    """say(room, author, text) -> the message, through the posting service."""

    def post(room, author, text):
        return post_chat_message(room=room, author=author, content=text)

    return post


@pytest.fixture
def comment_on():
    def post(task, author, text):
        return post_task_comment(task=task, author=author, content=text)

    return post


@pytest.fixture
def search_json(client_for):
    """search_json(user, q, **params) -> (status, JSON body) of GET /search/ as that user."""

    def run(user, q, **params):
        response = client_for(user).get(
            "/search/", {"q": q, **params}, HTTP_ACCEPT="application/json"
        )
        return response.status_code, response.json()

    return run


@pytest.fixture
def found(search_json):
    """found(user, q, **params) -> [(type, id), ...] of the first page (asserts a 200)."""

    def run(user, q, **params):
        status, body = search_json(user, q, **params)
        assert status == 200, body
        return [(r["type"], r["id"]) for r in body["results"]]

    return run

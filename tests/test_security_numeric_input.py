"""Numbers in request data: anything that is not a plain id is a clear 4xx, never a 500.

`str.isdigit()` accepts superscripts and circled digits ("²", "①") that `int()` refuses, and
ids beyond 64 bits overflow the database driver. The outside test found the room-member
form answering 500 for `user=²`; every numeric field a view reads is walked here with the
same kinds of values, over the HTTP client, as a browser or script would send them.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import (
    BoardFactory,
    ChatRoomFactory,
    ColumnFactory,
    TaskFactory,
    add_board_members,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


NOT_AN_ID = [
    "²",  # superscript two: isdigit() but not int()
    "①",  # circled one: isdigit() but not int()
    "٣",  # Arabic-Indic three: int() reads it as 3, but no one types ids like that
    "99999999999999999999999",  # beyond a 64-bit integer
    "-1",
    "1e3",
    "0x1f",
    "",
    "\x00",
]


@pytest.fixture
def world(alice, bob):
    board = BoardFactory(created_by=alice, members=[bob])
    column = ColumnFactory(board=board)
    task = TaskFactory(column=column)
    room = ChatRoomFactory(board=board, created_by=alice, members=[bob])
    return {"board": board, "column": column, "task": task, "room": room}


@pytest.mark.parametrize("value", NOT_AN_ID)
@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
def test_room_member_form_rejects_what_is_not_a_user(alice_client, world, value, as_json):
    headers = {"HTTP_ACCEPT": "application/json"} if as_json else {}
    url = reverse("messaging:room_members", args=[world["room"].pk])

    response = alice_client.post(url, {"action": "add", "user": value}, **headers)

    if as_json:
        assert response.status_code == 400
        assert response.json()["error"]
    else:  # a plain form post: back to the room with the error shown
        assert response.status_code == 302
        page = alice_client.get(response["Location"]).content.decode()
        assert any(
            text in page
            for text in (
                "No member of this board has that name.",
                "This field is required.",
                "Null characters are not allowed.",
            )
        ), page


def test_room_member_form_still_takes_a_plain_id(alice_client, world, bob, carol):
    add_board_members(world["board"], carol)
    url = reverse("messaging:room_members", args=[world["room"].pk])

    response = alice_client.post(
        url, {"action": "add", "user": str(carol.pk)}, HTTP_ACCEPT="application/json"
    )

    assert response.status_code == 200
    assert response.json()["username"] == "carol"


@pytest.mark.parametrize("value", NOT_AN_ID)
@pytest.mark.parametrize("field", ["before", "after", "limit"])
def test_history_paging_parameters(alice_client, world, field, value):
    url = reverse("messaging:room_history", args=[world["room"].pk])

    response = alice_client.get(url, {field: value})

    assert response.status_code in (200, 400), response.status_code


@pytest.mark.parametrize("value", NOT_AN_ID)
@pytest.mark.parametrize("field", ["board", "room"])
def test_mention_autocomplete_scope_ids(alice_client, world, field, value):
    response = alice_client.get(reverse("messaging:mentions"), {"q": "b", field: value})

    assert response.status_code in (400, 404), response.status_code


@pytest.mark.parametrize("value", NOT_AN_ID)
def test_task_move_column_and_position(alice_client, world, value):
    url = reverse("kanban:task_move", args=[world["task"].pk])
    json = {"HTTP_ACCEPT": "application/json", "HTTP_X_REQUESTED_WITH": "fetch"}

    for data in ({"column": value}, {"column": world["column"].pk, "position": value}):
        response = alice_client.post(url, data, **json)
        assert response.status_code in (200, 400, 404), (data, response.status_code)


@pytest.mark.parametrize("value", NOT_AN_ID)
def test_column_move_position(alice_client, world, value):
    url = reverse("kanban:column_move", args=[world["column"].pk])

    response = alice_client.post(url, {"position": value})

    assert response.status_code in (302, 400), response.status_code


@pytest.mark.parametrize("value", NOT_AN_ID)
def test_task_assignee(alice_client, world, value):
    url = reverse("kanban:task_edit", args=[world["task"].pk])

    response = alice_client.post(url, {"title": "t", "assignee": value, "priority": "low"})

    assert response.status_code in (200, 302, 400), response.status_code


@pytest.mark.parametrize("value", NOT_AN_ID)
def test_notification_page_number(alice_client, value):
    response = alice_client.get(reverse("messaging:notifications"), {"page": value})

    assert response.status_code == 200

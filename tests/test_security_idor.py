"""IDOR: every route that takes an object id answers a logged-in stranger exactly as it
answers an id that does not exist (404), by GET and by POST, and changes nothing.

Routes come from the live URLconf (tests/security_routes.py); ids point at real objects of
alice's board. A stranger is dave (logged in, with a board of his own), a member removed
from the board, and, for the narrower objects, a board member who is not in the room or is
not the notification's recipient. A 405 is accepted only where a nonexistent id gets the
same 405 (the method is refused before any lookup, so it reveals nothing).
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from kanban import services as kanban_services
from messaging.models import ChatMessage
from tests.factories import UserFactory, add_board_members
from tests.security_routes import FAST_HASHERS, World, routes, snapshot

ROUTES = routes()
OBJECT_ROUTES = [route for route in ROUTES if route.int_kwargs]
MISSING_ID = 987_654_321

# Routes whose object is narrower than the board: a board member can still be a stranger.
ROOM_ROUTES = [r for r in OBJECT_ROUTES if "room_id" in r.kwargs]
NOTIFICATION_ROUTES = [r for r in OBJECT_ROUTES if "notification_id" in r.kwargs]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def world(db, alice, bob, carol) -> World:
    return World.build(alice, [bob, carol])


@pytest.fixture
def dave(db):
    """A stranger to alice's board, with a board of his own."""
    user = UserFactory(username="dave")
    World.build(user, [])
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def harmful_data(world: World) -> dict:
    return {
        "name": "pwned",
        "title": "pwned",
        "description": "pwned",
        "content": "pwned",
        "username": "dave",
        "action": "add",
        "user": "dave",
        "column": world.column.pk,
        "position": 0,
        "direction": "left",
    }


def assert_not_found(client: Client, method: str, url: str, missing_url: str, data: dict) -> None:
    send = getattr(client, method)
    response = send(url, data) if method == "post" else send(url)
    if response.status_code == 405:
        # Refused by method before any lookup: must not depend on the object existing.
        missing = send(missing_url, data) if method == "post" else send(missing_url)
        assert missing.status_code == 405, f"{method.upper()} {url}: 405 only for a real id"
        return
    assert response.status_code == 404, f"{method.upper()} {url} -> {response.status_code}"


def check_route_as(user, world: World, route, *, overrides: dict | None = None) -> None:
    client = client_for(user)
    url = world.url_for(route, overrides)
    missing_url = world.url_for(route, dict.fromkeys(route.int_kwargs, MISSING_ID))
    data = harmful_data(world)
    before = snapshot()
    assert_not_found(client, "get", url, missing_url, data)
    assert_not_found(client, "post", url, missing_url, data)
    assert snapshot() == before


def test_the_walk_finds_the_object_routes():
    names = {route.name for route in OBJECT_ROUTES}
    expected = {
        "kanban:board_detail",
        "kanban:board_edit",
        "kanban:board_delete",
        "kanban:board_members",
        "kanban:member_remove",
        "kanban:column_create",
        "kanban:column_rename",
        "kanban:column_move",
        "kanban:column_delete",
        "kanban:task_create",
        "kanban:task_detail",
        "kanban:task_edit",
        "kanban:task_delete",
        "kanban:task_move",
        "messaging:room_list",
        "messaging:room_create",
        "messaging:room_detail",
        "messaging:room_send",
        "messaging:room_history",
        "messaging:room_members",
        "messaging:task_comments",
        "messaging:task_comment_history",
        "messaging:notification_read",
        "orgs:invitation_revoke",
        "orgs:member_role",
        "orgs:member_remove",
    }
    assert names >= expected, expected - names


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_stranger_gets_404(route, world, dave):
    check_route_as(dave, world, route)


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_removed_member_gets_404(route, world, bob):
    kanban_services.remove_member(board=world.board, user=bob, removed_by=world.owner)
    check_route_as(bob, world, route)


@pytest.mark.parametrize("route", ROOM_ROUTES, ids=str)
def test_board_member_outside_the_room_gets_404(route, world, alice, bob):
    outsider = UserFactory(username="erin")
    add_board_members(world.board, outsider)
    check_route_as(outsider, world, route)


@pytest.mark.parametrize("route", NOTIFICATION_ROUTES, ids=str)
def test_someone_elses_notification_is_404_even_for_a_board_member(route, world, bob):
    check_route_as(bob, world, route)  # the notification is alice's


def test_member_remove_with_a_foreign_user_id_on_own_board_is_404(world, dave):
    """dave's own board, alice's member's id: not a member of dave's board."""
    own_board = dave.boards.get()
    client = client_for(dave)
    before = snapshot()
    url = reverse("kanban:member_remove", args=[own_board.pk, world.removable.pk])
    assert client.post(url).status_code == 404
    assert snapshot() == before


def test_task_move_into_a_foreign_column_is_404(world, dave):
    """dave moves his own task into alice's column (the id is in the body)."""
    own_task = dave.boards.get().columns.get().tasks.get()
    client = client_for(dave)
    before = snapshot()
    response = client.post(
        reverse("kanban:task_move", args=[own_task.pk]), {"column": world.column.pk, "position": 0}
    )
    assert response.status_code == 404
    assert snapshot() == before


def test_room_members_cannot_add_a_stranger_by_id(world, dave):
    """The room's manager cannot pull someone from outside the board into the room."""
    client = client_for(world.owner)
    before = snapshot()
    response = client.post(
        reverse("messaging:room_members", args=[world.room.pk]),
        {"action": "add", "user": dave.pk},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    assert snapshot() == before


def test_room_create_cannot_add_a_stranger(world, dave):
    client = client_for(world.owner)
    before = snapshot()
    response = client.post(
        reverse("messaging:room_create", args=[world.board.pk]),
        {"name": "with-dave", "members": [dave.pk]},
    )
    assert response.status_code == 400
    assert snapshot() == before


@pytest.mark.parametrize("param", ["board", "room"])
def test_mention_autocomplete_of_a_foreign_board_or_room_is_404(param, world, dave):
    client = client_for(dave)
    target = world.board.pk if param == "board" else world.room.pk
    response = client.get(reverse("messaging:mentions"), {param: target, "q": ""})
    assert response.status_code == 404
    missing = client.get(reverse("messaging:mentions"), {param: MISSING_ID, "q": ""})
    assert missing.status_code == 404


def test_mention_autocomplete_lists_only_the_boards_members(world, dave, alice):
    response = client_for(alice).get(
        reverse("messaging:mentions"), {"board": world.board.pk, "q": ""}
    )
    assert response.status_code == 200
    usernames = {row["username"] for row in response.json()["results"]}
    assert usernames == {"bob", "carol"}  # the other members; alice is the one typing
    assert "dave" not in usernames
    assert "email" not in str(response.json())


@pytest.mark.parametrize("key", ["before", "after"])
def test_history_cursor_cannot_reach_another_rooms_messages(key, world, dave):
    """dave pages his own room's history with a cursor whose range spans alice's messages:
    he gets his room's messages only."""
    own_room = dave.chat_rooms.get()
    cursor = ChatMessage.objects.order_by("-pk").first().pk + 1 if key == "before" else 0
    response = client_for(dave).get(
        reverse("messaging:room_history", args=[own_room.pk]), {key: cursor}
    )
    assert response.status_code == 200
    contents = {m["message"] for m in response.json()["messages"]}
    alice_room_contents = set(
        ChatMessage.objects.filter(chat_room=world.room).values_list("content", flat=True)
    )
    assert contents
    assert not contents & alice_room_contents

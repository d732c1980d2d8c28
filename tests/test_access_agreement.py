"""One rule per question, and every interface agrees with it.

A matrix of people around one board, its room and one task's thread, each with the access a
person would expect (written out below as literals, not computed by the code under test):

- owner / admin / member of the organization, on the board and in the room: read everything;
- a board member who is not in the room: the board and the thread, not the room;
- a room member who was removed from the board: nothing (their room row is left behind);
- someone from another organization: nothing;
- a deactivated user who is still on the board and in the room: nothing.

Each interface is asked about each person: the rule itself (predicate and queryset), the
HTTP pages, the JSON endpoints, socket connect, the consumers' per-frame re-check, mention
resolution, notification recipients and autocomplete.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client
from django.urls import reverse

from accounts.models import Membership, Organization
from kanban import access as board_access
from kanban.consumers import BoardConsumer
from messaging import access as room_access
from messaging.consumers.chat import ChatRoomConsumer
from messaging.consumers.comments import TaskCommentConsumer
from messaging.models import Notification
from messaging.routing import websocket_urlpatterns
from messaging.services.posting import post_chat_message, post_task_comment
from tests.factories import (
    BoardFactory,
    ChatRoomFactory,
    ColumnFactory,
    OrganizationFactory,
    TaskFactory,
    UserFactory,
    add_board_members,
    join_organization,
)

# case -> (board, room, task thread)
EXPECTED = {
    "owner": (True, True, True),
    "admin": (True, True, True),
    "member": (True, True, True),
    "board_member_not_in_room": (True, False, True),
    "room_member_removed_from_board": (False, False, False),
    "other_organization": (False, False, False),
    "deactivated": (False, False, False),
}
CASES = list(EXPECTED)
USERNAMES = {
    "owner": "olivia",
    "admin": "adam",
    "member": "mia",
    "board_member_not_in_room": "ben",
    "room_member_removed_from_board": "rex",
    "other_organization": "otto",
    "deactivated": "dee",
}


def expected(rule: str) -> set[str]:
    index = {"board": 0, "room": 1, "thread": 2}[rule]
    return {USERNAMES[case] for case, allowed in EXPECTED.items() if allowed[index]}


@pytest.fixture
def world(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    users = {case: UserFactory(username=name) for case, name in USERNAMES.items()}
    org = OrganizationFactory(name="Acme", owner=users["owner"])
    join_organization(org, users["admin"], role=Membership.Role.ADMIN)
    on_board = [
        users[c]
        for c in (
            "admin",
            "member",
            "board_member_not_in_room",
            "room_member_removed_from_board",
            "deactivated",
        )
    ]
    board = BoardFactory(created_by=users["owner"], organization=org, members=on_board)
    in_room = [
        users[c] for c in ("admin", "member", "room_member_removed_from_board", "deactivated")
    ]
    room = ChatRoomFactory(board=board, created_by=users["owner"], members=in_room)
    task = TaskFactory(column=ColumnFactory(board=board), created_by=users["owner"])
    # The other organization, with a board of its own.
    globex = OrganizationFactory(name="Globex", owner=users["other_organization"])
    BoardFactory(created_by=users["other_organization"], organization=globex)
    # Removed from the board (raw row delete: the room row is deliberately left behind).
    board.members.remove(users["room_member_removed_from_board"])
    users["deactivated"].is_active = False
    users["deactivated"].save(update_fields=["is_active"])
    return users, board, room, task


# --- the rule itself ----------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_predicates_and_querysets_agree(world, case):
    users, board, room, task = world
    user = users[case]
    board_ok, room_ok, thread_ok = EXPECTED[case]

    assert board_access.can_read_board(user, board.pk) is board_ok
    assert board_access.readable_boards(user).filter(pk=board.pk).exists() is board_ok
    assert board_access.board_readers(board.pk).filter(pk=user.pk).exists() is board_ok
    assert room_access.can_read_room(user, room.pk) is room_ok
    assert room_access.can_read_room_id(user_id=user.pk, room_id=room.pk) is room_ok
    assert room_access.readable_rooms(user).filter(pk=room.pk).exists() is room_ok
    assert room_access.room_readers(room.pk).filter(pk=user.pk).exists() is room_ok
    assert (user.pk in room_access.room_reader_ids(room.pk)) is room_ok  # the posting check
    assert room_access.can_read_task_thread(user, task.pk) is thread_ok
    assert room_access.task_thread_readers(task).filter(pk=user.pk).exists() is thread_ok


def test_readers_are_exactly_the_expected_people(world):
    _, board, room, task = world
    assert set(board_access.board_readers(board.pk).values_list("username", flat=True)) == (
        expected("board")
    )
    assert set(room_access.room_readers(room.pk).values_list("username", flat=True)) == (
        expected("room")
    )
    # The posting service's check reuses one compiled query for every room (issue 16).
    reader_ids = room_access.room_reader_ids(room.pk)
    assert reader_ids == set(room_access.room_readers(room.pk).values_list("pk", flat=True))
    assert set(room_access.task_thread_readers(task).values_list("username", flat=True)) == (
        expected("thread")
    )


# --- HTTP ---------------------------------------------------------------------------------


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_answer(response, allowed: bool, user) -> None:
    if allowed:
        assert response.status_code == 200
    elif user.is_active:
        assert response.status_code == 404  # exactly as for an id that does not exist
    else:
        assert response.status_code == 302  # a deactivated user is logged out everywhere
        assert "/accounts/login/" in response.url


@pytest.mark.parametrize("case", CASES)
def test_http_pages_agree(world, case):
    users, board, room, task = world
    user = users[case]
    board_ok, room_ok, thread_ok = EXPECTED[case]
    client = client_of(user)
    assert_answer(client.get(board.get_absolute_url()), board_ok, user)
    assert_answer(client.get(reverse("messaging:room_detail", args=[room.pk])), room_ok, user)
    assert_answer(client.get(task.get_absolute_url()), thread_ok, user)
    assert_answer(client.get(reverse("messaging:task_comments", args=[task.pk])), thread_ok, user)


@pytest.mark.parametrize("case", CASES)
def test_json_endpoints_agree(world, case):
    users, board, room, task = world
    user = users[case]
    board_ok, room_ok, thread_ok = EXPECTED[case]
    client = client_of(user)
    assert_answer(client.get(reverse("messaging:room_history", args=[room.pk])), room_ok, user)
    assert_answer(
        client.get(reverse("messaging:task_comment_history", args=[task.pk])), thread_ok, user
    )
    assert_answer(client.get(reverse("kanban:board_state", args=[board.pk])), board_ok, user)
    mentions = reverse("messaging:mentions")
    assert_answer(client.get(mentions, {"room": room.pk, "q": ""}), room_ok, user)
    assert_answer(client.get(mentions, {"board": board.pk, "q": ""}), board_ok, user)


# --- sockets ------------------------------------------------------------------------------


async def accepted(user, path: str) -> bool:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    ok, _ = await communicator.connect(timeout=3)
    if ok:
        await communicator.disconnect()
    return ok


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", CASES)
async def test_socket_connect_agrees(world, case):
    users, board, room, task = world
    user = users[case]
    board_ok, room_ok, thread_ok = EXPECTED[case]
    try:
        assert await accepted(user, f"/ws/board/{board.pk}/") is board_ok
        assert await accepted(user, f"/ws/chat-room/{room.pk}/") is room_ok
        assert await accepted(user, f"/ws/task-comments/{task.pk}/") is thread_ok
    finally:
        await sync_to_async(connections.close_all)()


@pytest.mark.parametrize("case", CASES)
def test_per_frame_recheck_agrees(world, case):
    """What the consumers ask before acting on each frame of an open socket."""
    users, board, room, task = world
    board_ok, room_ok, thread_ok = EXPECTED[case]
    live_board = BoardConsumer()
    live_board.user, live_board.board = users[case], board
    chat = ChatRoomConsumer()
    chat.user, chat.room = users[case], room
    comments = TaskCommentConsumer()
    comments.user, comments.task = users[case], task
    assert live_board.allowed_now() is board_ok
    assert chat.allowed_now() is room_ok
    assert comments.allowed_now() is thread_ok


# A person's access can end while their sockets are open without any signal reaching them
# (a raw row delete, a lost event). Each frame must then be judged by the same rule: pat
# starts as a plain member with both sockets open, silently becomes each case of the matrix,
# and sends one frame on each socket. With the socket's cached answer (the default 60 s) the
# posting service's own check decides; with SOCKET_ACCESS_RECHECK_SECONDS=0 the consumer asks
# the rule before the frame. Either way the frame is refused exactly where EXPECTED says.
def become(case: str, pat, board, room, globex) -> None:
    """Turn pat, a plain member, into `case` with raw writes that signal nobody."""
    own = Membership.objects.filter(user=pat, organization=board.organization)
    if case == "owner":
        own.update(role=Membership.Role.OWNER)
    elif case == "admin":
        own.update(role=Membership.Role.ADMIN)
    elif case == "board_member_not_in_room":
        room.members.remove(pat)
    elif case == "room_member_removed_from_board":
        board.members.remove(pat)
    elif case == "other_organization":
        own.delete()
        join_organization(globex, pat)
    elif case == "deactivated":
        type(pat).objects.filter(pk=pat.pk).update(is_active=False)


async def answer_to(communicator, frame: dict, wanted: str) -> str:
    """Send one frame; return `wanted` if it came back, else the error's code."""
    await communicator.send_to(text_data=json.dumps(frame))
    while True:
        reply = json.loads(await communicator.receive_from(timeout=3))
        if reply["type"] == wanted:
            return wanted
        if reply["type"] == "error":
            return reply.get("code") or reply["message"]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("recheck_seconds", [60.0, 0.0], ids=["cached", "every_frame"])
@pytest.mark.parametrize("case", CASES)
async def test_per_frame_recheck_over_an_open_socket_agrees(world, settings, case, recheck_seconds):
    settings.SOCKET_ACCESS_RECHECK_SECONDS = recheck_seconds
    _, board, room, task = world
    _, room_ok, thread_ok = EXPECTED[case]

    def arrange():
        pat = UserFactory(username="pat")
        add_board_members(board, pat)
        room.members.add(pat)
        return pat, Organization.objects.get(name="Globex")

    pat, globex = await sync_to_async(arrange)()
    chat = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/chat-room/{room.pk}/")
    comments = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), f"/ws/task-comments/{task.pk}/"
    )
    try:
        for communicator in (chat, comments):
            communicator.scope["user"] = pat
            assert (await communicator.connect(timeout=3))[0]

        await sync_to_async(become)(case, pat, board, room, globex)

        chat_answer = await answer_to(
            chat, {"type": "chat_message", "message": "still here?"}, "chat_message"
        )
        thread_answer = await answer_to(
            comments, {"type": "comment", "comment": "still here?"}, "new_comment"
        )
        assert chat_answer == ("chat_message" if room_ok else "access_gone")
        assert thread_answer == ("new_comment" if thread_ok else "access_gone")
        saved = await sync_to_async(
            lambda: (
                room.messages.filter(author=pat).count(),
                task.thread_comments.filter(author=pat).count(),
            )
        )()
        assert saved == (int(room_ok), int(thread_ok))
    finally:
        for communicator in (chat, comments):
            await communicator.disconnect()
        await sync_to_async(connections.close_all)()


# --- mentions, notifications, autocomplete -------------------------------------------------


def everyone_mentioned() -> str:
    return "hi " + " ".join(f"@{name}" for name in USERNAMES.values())


def test_mention_scope_and_notification_recipients_agree_in_the_room(
    world, django_capture_on_commit_callbacks
):
    users, _, room, _ = world
    owner = users["owner"]
    with django_capture_on_commit_callbacks(execute=True):  # the notification task (eager)
        message = post_chat_message(room=room, author=owner, content=everyone_mentioned())
    wanted = expected("room") - {owner.username}
    assert set(message.mentioned_users.values_list("username", flat=True)) == wanted
    recipients = Notification.objects.filter(chat_message=message)
    assert set(recipients.values_list("recipient__username", flat=True)) == wanted


def test_mention_scope_and_notification_recipients_agree_in_the_thread(
    world, django_capture_on_commit_callbacks
):
    users, _, _, task = world
    owner = users["owner"]
    with django_capture_on_commit_callbacks(execute=True):
        comment = post_task_comment(task=task, author=owner, content=everyone_mentioned())
    wanted = expected("thread") - {owner.username}
    assert set(comment.mentioned_users.values_list("username", flat=True)) == wanted
    recipients = Notification.objects.filter(task_thread_comment=comment)
    assert set(recipients.values_list("recipient__username", flat=True)) == wanted


@pytest.mark.parametrize(("scope", "rule"), [("room", "room"), ("board", "thread")])
def test_autocomplete_offers_exactly_the_readers(world, scope, rule):
    users, board, room, _ = world
    owner = users["owner"]
    target = room.pk if scope == "room" else board.pk
    response = client_of(owner).get(reverse("messaging:mentions"), {scope: target, "q": ""})
    offered = {row["username"] for row in json.loads(response.content)["results"]}
    assert offered == expected(rule) - {owner.username}

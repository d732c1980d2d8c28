"""WebSocket interface: who may connect, the wire protocol, bad frames, revoked access.

Most tests build the communicator on the websocket URL router with scope["user"] set; the
`full stack` tests at the end go through kanban_board.asgi.application to prove the session
auth and the Origin check."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from messaging import realtime
from messaging.consumers import chat as chat_module
from messaging.consumers.base import ACCESS_GONE
from messaging.models import ChatMessage, TaskThreadComment
from messaging.services.rooms import remove_room_member
from messaging.tests.sockets import (
    TIMEOUT,
    close_worker_thread_connections,  # noqa: F401 - fixture
    connected,
    frame,
    frames,
    room_path,
    send,
    silent,
    socket_for,
    task_path,
)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_worker_thread_connections"),
]


async def count(model) -> int:
    return await sync_to_async(model.objects.count)()


@pytest_asyncio.fixture
async def alice_bob(room, alice, bob):
    """alice and bob connected to the room; alice has consumed bob's user_join."""
    a = await connected(alice, room_path(room))
    b = await connected(bob, room_path(room))
    join = await frame(a)
    assert join["type"] == "user_join"
    yield a, b
    await a.disconnect()
    await b.disconnect()


# --- connecting -------------------------------------------------------------------------


async def test_anonymous_is_refused(room):
    ok, _ = await socket_for(AnonymousUser(), room_path(room)).connect(timeout=TIMEOUT)
    assert not ok


async def test_board_member_outside_the_room_is_refused(room, carol):
    ok, _ = await socket_for(carol, room_path(room)).connect(timeout=TIMEOUT)
    assert not ok


async def test_stranger_and_missing_room_are_refused_alike(room, dave, bob):
    assert not (await socket_for(dave, room_path(room)).connect(timeout=TIMEOUT))[0]
    assert not (await socket_for(bob, "/ws/chat-room/999999/").connect(timeout=TIMEOUT))[0]


async def test_others_see_join_and_leave(room, alice, bob):
    a = await connected(alice, room_path(room))
    b = await connected(bob, room_path(room))

    assert await frame(a) == {
        "display_name": "Bob B.",
        "type": "user_join",
        "username": "bob",
        "user_id": bob.pk,
    }
    assert await silent(b)  # no join echo to yourself

    await b.disconnect()
    leave = await frame(a)
    assert (leave["type"], leave["username"], leave["user_id"]) == ("user_leave", "bob", bob.pk)
    await a.disconnect()


# --- chat messages ----------------------------------------------------------------------


async def test_message_reaches_every_member_including_the_sender(alice_bob, alice):
    a, b = alice_bob
    await send(a, {"type": "chat_message", "message": "Hello team"})

    to_alice, to_bob = await frame(a), await frame(b)
    assert to_alice == to_bob
    message = await sync_to_async(ChatMessage.objects.get)()
    assert to_bob["type"] == "chat_message"
    assert to_bob["message_id"] == message.pk
    assert to_bob["username"] == "alice"
    assert to_bob["user_id"] == alice.pk
    assert to_bob["message"] == "Hello team"
    assert to_bob["mentioned_users"] == []
    assert to_bob["timestamp"].endswith("Z")


async def test_mentioning_one_member_still_reaches_the_others(room, alice, bob, carol):
    await sync_to_async(room.members.add)(carol)
    a = await connected(alice, room_path(room))
    c = await connected(carol, room_path(room))
    await frame(a)  # carol's join

    await send(a, {"type": "chat_message", "message": "Hello @bob"})

    to_carol = await frame(c)
    assert to_carol["message"] == "Hello @bob"
    assert to_carol["mentioned_users"] == ["bob"]
    await a.disconnect()
    await c.disconnect()


async def test_chat_socket_gets_no_notification_frames_but_the_notification_socket_does(
    alice_bob, bob
):
    """Chat sockets sit in user_<id> to hear access changes; mention notifications pushed to
    that group are for the notifications socket only."""
    a, b = alice_bob
    bell = await connected(bob, "/ws/notifications/")
    assert (await frame(bell))["type"] == "unread_count"

    await send(a, {"type": "chat_message", "message": "@bob look"})

    assert (await frame(b))["type"] == "chat_message"
    assert (await frame(bell))["type"] == "notification"
    assert await silent(b)
    await bell.disconnect()


async def test_sender_gets_an_ack_for_a_client_id(alice_bob):
    a, b = alice_bob
    await send(a, {"type": "chat_message", "message": "hi", "client_id": "tmp-1"})

    got = {f["type"]: f for f in await frames(a, 2)}
    assert got["ack"] == {
        "type": "ack",
        "client_id": "tmp-1",
        "message_id": got["chat_message"]["message_id"],
    }
    assert got["chat_message"]["client_id"] == "tmp-1"
    assert (await frame(b))["type"] == "chat_message"
    assert await silent(b)  # the ack is the sender's alone


async def test_resent_client_id_is_acked_without_a_second_row(alice_bob):
    a, _ = alice_bob
    await send(a, {"type": "chat_message", "message": "hi", "client_id": "same"})
    first = {f["type"]: f for f in await frames(a, 2)}
    await send(a, {"type": "chat_message", "message": "hi", "client_id": "same"})

    ack = await frame(a)
    assert ack == first["ack"]
    assert await count(ChatMessage) == 1


async def test_http_post_reaches_an_open_socket(room, alice, bob):
    a = await connected(alice, room_path(room))

    def post_over_http() -> int:
        client = Client()
        client.force_login(bob)
        url = f"/messaging/room/{room.pk}/send/"
        return client.post(url, {"content": "from the form"}).status_code

    assert await sync_to_async(post_over_http)() == 302
    received = await frame(a)
    assert received["type"] == "chat_message"
    assert received["message"] == "from the form"
    assert received["username"] == "bob"
    await a.disconnect()


# --- bad frames -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('"hello"', "JSON object"),
        ('{"type": "shout", "message": "x"}', "Unknown message type"),
        ('{"message": "no type"}', "Unknown message type"),
        ('{"type": "chat_message"}', '"message" is required'),
        ('{"type": "chat_message", "message": 42}', "must be a string"),
        ('{"type": "chat_message", "message": "   "}', "empty"),
        ('{"type": "chat_message", "message": "x", "client_id": 7}', "client_id"),
        (json.dumps({"type": "chat_message", "message": "x" * 4001}), "limited to 4000"),
        (json.dumps({"type": "chat_message", "message": "x" * 30000}), "too large"),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_keeps_working(alice_bob, raw, expected):
    a, b = alice_bob
    await a.send_to(text_data=raw)

    error = await frame(a)
    assert error["type"] == "error"
    assert expected in error["message"]
    assert await count(ChatMessage) == 0
    assert await silent(b, 0.1)

    await send(a, {"type": "chat_message", "message": "still works"})
    assert (await frame(b))["message"] == "still works"


async def test_longest_message_is_accepted_even_when_every_character_is_escaped(alice_bob):
    """A 4,000-character message of control characters arrives as a ~24,000-character JSON
    frame ("\u0001" each); the frame-size guard must not refuse it."""
    a, _ = alice_bob
    text = "\x01" * 3999 + "a"
    await send(a, {"type": "chat_message", "message": text})

    echoed = await frame(a)
    assert echoed["type"] == "chat_message"
    assert echoed["message"] == text


async def test_binary_frames_get_an_error(alice_bob):
    a, _ = alice_bob
    await a.send_to(bytes_data=b"\x00\x01")
    error = await frame(a)
    assert error["type"] == "error"
    assert "Binary" in error["message"]


async def test_validation_errors_echo_the_client_id(alice_bob):
    a, _ = alice_bob
    await send(a, {"type": "chat_message", "message": "", "client_id": "c9"})
    error = await frame(a)
    assert error["type"] == "error"
    assert error["client_id"] == "c9"


async def test_unexpected_failures_are_reported_not_raised(alice_bob, monkeypatch):
    a, b = alice_bob

    def explode(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(chat_module, "post_chat_message", explode)
    await send(a, {"type": "chat_message", "message": "boom"})
    error = await frame(a)
    assert error["type"] == "error"
    assert "database" not in error["message"]  # no internals leak

    monkeypatch.undo()
    await send(a, {"type": "chat_message", "message": "recovered"})
    assert (await frame(b))["message"] == "recovered"


# --- typing -----------------------------------------------------------------------------


async def test_typing_goes_to_the_others_not_to_yourself(alice_bob, bob, settings):
    a, b = alice_bob
    await send(b, {"type": "typing"})

    typing = await frame(a)
    assert typing["type"] == "user_typing"
    assert (typing["username"], typing["user_id"]) == ("bob", bob.pk)
    assert typing["expires_in"] == settings.TYPING_EXPIRY_SECONDS
    assert await silent(b)

    await send(b, {"type": "stop_typing"})
    stop = await frame(a)
    assert (stop["type"], stop["username"], stop["user_id"]) == ("user_stop_typing", "bob", bob.pk)
    assert await silent(b)


async def test_typing_bursts_are_throttled(alice_bob):
    a, b = alice_bob
    for _ in range(5):
        await send(b, {"type": "typing"})

    assert (await frame(a))["type"] == "user_typing"
    assert await silent(a, 0.5)


# --- revoked access ---------------------------------------------------------------------


async def test_removed_member_is_closed_by_the_access_signal(alice_bob, room, alice, bob):
    a, b = alice_bob
    await sync_to_async(remove_room_member)(room=room, user=bob, removed_by=alice)

    error = await frame(b)
    assert error["type"] == "error"
    assert error["code"] == "access_gone"
    closed = await b.receive_output(timeout=TIMEOUT)
    assert closed == {"type": "websocket.close", "code": ACCESS_GONE}

    # and bob no longer receives the room's messages
    await send(a, {"type": "chat_message", "message": "after bob left"})
    assert (await frame(a))["message"] == "after bob left"


async def test_member_removed_silently_is_stopped_on_the_next_message(alice_bob, room, bob):
    a, b = alice_bob
    await sync_to_async(room.members.remove)(bob)  # no signal sent

    await send(b, {"type": "chat_message", "message": "am I still here?"})

    error = await frame(b)
    assert (error["type"], error["code"]) == ("error", "access_gone")
    assert (await b.receive_output(timeout=TIMEOUT))["code"] == ACCESS_GONE
    assert await count(ChatMessage) == 0
    assert await silent(a)


async def test_access_signal_leaves_members_connected(alice_bob, bob):
    a, b = alice_bob
    from channels.layers import get_channel_layer

    await get_channel_layer().group_send(
        realtime.user_group(bob.pk), {"type": realtime.ACCESS_CHANGED}
    )
    assert await silent(b)
    await send(b, {"type": "chat_message", "message": "still in"})
    assert (await frame(a))["message"] == "still in"


# --- task comments ----------------------------------------------------------------------


async def test_comment_reaches_everyone_watching_the_task(task, bob, carol):
    b = await connected(bob, task_path(task))
    c = await connected(carol, task_path(task))

    await send(b, {"type": "comment", "comment": "Great work @carol", "client_id": "k1"})

    to_carol = await frame(c)
    comment = await sync_to_async(TaskThreadComment.objects.get)()
    assert to_carol["type"] == "new_comment"
    assert to_carol["comment_id"] == comment.pk
    assert to_carol["username"] == "bob"
    assert to_carol["user_id"] == bob.pk
    assert to_carol["comment"] == "Great work @carol"
    assert to_carol["mentioned_users"] == ["carol"]
    assert to_carol["timestamp"].endswith("Z")
    got = {f["type"]: f for f in await frames(b, 2)}
    assert got["ack"]["client_id"] == "k1"
    assert got["ack"]["comment_id"] == comment.pk
    await b.disconnect()
    await c.disconnect()


async def test_comment_socket_is_for_board_members_only(task, dave):
    assert not (await socket_for(dave, task_path(task)).connect(timeout=TIMEOUT))[0]
    assert not (await socket_for(AnonymousUser(), task_path(task)).connect(timeout=TIMEOUT))[0]


async def test_bad_comment_frames_get_errors(task, bob):
    b = await connected(bob, task_path(task))
    await send(b, {"type": "comment"})
    assert '"comment" is required' in (await frame(b))["message"]
    await send(b, {"type": "chat_message", "message": "wrong socket"})
    assert "Unknown message type" in (await frame(b))["message"]
    await send(b, {"type": "comment", "comment": "ok now"})
    assert (await frame(b))["type"] == "new_comment"
    await b.disconnect()


async def test_comment_socket_closes_when_board_membership_ends(task, board, bob):
    b = await connected(bob, task_path(task))
    await sync_to_async(board.members.remove)(bob)

    await send(b, {"type": "comment", "comment": "hello?"})

    assert (await frame(b))["code"] == "access_gone"
    assert (await b.receive_output(timeout=TIMEOUT))["code"] == ACCESS_GONE
    assert await count(TaskThreadComment) == 0


# --- full stack: session auth and Origin check ------------------------------------------


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def app_socket(path: str, headers: list[tuple[bytes, bytes]]) -> tuple[bool, object]:
    from kanban_board.asgi import application

    # A browser always sends the Host it connected to; the Origin check compares the two.
    communicator = WebsocketCommunicator(
        application, path, headers=[(b"host", b"127.0.0.1:8000"), *headers]
    )
    result = await communicator.connect(timeout=TIMEOUT)
    if result[0]:
        await communicator.disconnect()
    return result


async def test_full_stack_accepts_a_member_with_session_and_same_origin(room, bob):
    cookie = await sync_to_async(session_cookie)(bob)
    ok, _ = await app_socket(
        room_path(room), [(b"origin", b"http://127.0.0.1:8000"), (b"cookie", cookie)]
    )
    assert ok


async def test_full_stack_refuses_a_foreign_origin(room, bob):
    cookie = await sync_to_async(session_cookie)(bob)
    ok, _ = await app_socket(
        room_path(room), [(b"origin", b"https://evil.example"), (b"cookie", cookie)]
    )
    assert not ok


async def test_full_stack_refuses_the_same_host_on_another_port(room, bob):
    cookie = await sync_to_async(session_cookie)(bob)
    ok, _ = await app_socket(
        room_path(room), [(b"origin", b"http://127.0.0.1:9999"), (b"cookie", cookie)]
    )
    assert not ok


async def test_full_stack_refuses_a_missing_origin(room, bob):
    cookie = await sync_to_async(session_cookie)(bob)
    ok, _ = await app_socket(room_path(room), [(b"cookie", cookie)])
    assert not ok


async def test_full_stack_refuses_anonymous(room, task):
    origin = [(b"origin", b"http://127.0.0.1:8000")]
    assert not (await app_socket(room_path(room), origin))[0]
    assert not (await app_socket(task_path(task), origin))[0]


# --- services tier: the real Redis channel layer ----------------------------------------


@pytest.mark.services
async def test_two_sockets_share_a_room_over_channels_redis(redis_layer, room, alice, bob):
    from channels.layers import get_channel_layer

    assert type(get_channel_layer()).__name__ == "RedisChannelLayer"
    a = await connected(alice, room_path(room))
    b = await connected(bob, room_path(room))
    assert (await frame(a))["type"] == "user_join"

    await send(b, {"type": "chat_message", "message": "over redis", "client_id": "r1"})

    to_alice = await frame(a)
    assert (to_alice["type"], to_alice["message"], to_alice["username"]) == (
        "chat_message",
        "over redis",
        "bob",
    )
    got: dict = {}
    while not {"chat_message", "ack"} <= got.keys():  # alice's user_join may come first:
        got.setdefault((f := await frame(b))["type"], f)  # presence goes via the Redis cache
    assert got["chat_message"]["message_id"] == to_alice["message_id"]
    assert got["ack"]["message_id"] == to_alice["message_id"]
    await a.disconnect()
    await b.disconnect()

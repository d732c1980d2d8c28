"""Unread per room on the sockets (issue 11): `room_unread` on ws/notifications/ whenever a
room's counts change for the user, and `read_receipt` on the room's socket."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from messaging.services.editing import delete_chat_message
from messaging.services.posting import post_chat_message
from messaging.services.read_state import mark_room_read, set_room_muted
from tests.factories import ChatRoomFactory, UserFactory, add_board_members

from .sockets import close_worker_thread_connections, connected, frame, room_path, silent

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_worker_thread_connections"),
]
__all__ = ["close_worker_thread_connections"]

NOTIFICATIONS = "/ws/notifications/"


async def notifications_socket(user):
    socket = await connected(user, NOTIFICATIONS)
    assert (await frame(socket))["type"] == "unread_count"  # the greeting
    return socket


async def next_room_unread(socket) -> dict:
    while True:
        got = await frame(socket)
        if got["type"] == "room_unread":
            return got


post = sync_to_async(post_chat_message)


async def frames_until_quiet(socket, *, quiet: float) -> list[dict]:
    """Every frame the socket receives until it stays quiet for `quiet` seconds (longer than
    the recount interval: what arrives after a burst has settled)."""
    got: list[dict] = []
    while not await silent(socket, timeout=quiet):
        got.append(await frame(socket))
    return got


async def test_a_message_sends_every_other_reader_the_rooms_new_count(room, alice, bob, carol):
    b = await notifications_socket(bob)
    a = await notifications_socket(alice)
    c = await notifications_socket(carol)  # on the board, not in the room

    message = await post(room=room, author=alice, content="hello @bob")

    got = await next_room_unread(b)
    assert {k: got[k] for k in ("room_id", "unread", "mentions", "last_message_id")} == {
        "room_id": room.pk,
        "unread": 1,
        "mentions": 1,
        "last_message_id": message.pk,
    }
    assert await silent(a)  # the author's own message is not unread for her
    assert await silent(c)
    for socket in (a, b, c):
        await socket.disconnect()


async def test_reading_in_one_tab_clears_the_count_in_the_others(room, alice, bob):
    tab1 = await notifications_socket(bob)
    tab2 = await notifications_socket(bob)
    message = await post(room=room, author=alice, content="read me")
    assert (await next_room_unread(tab1))["unread"] == 1
    assert (await next_room_unread(tab2))["unread"] == 1

    await sync_to_async(mark_room_read)(room=room, user=bob, message_id=message.pk)

    for tab in (tab1, tab2):
        got = await next_room_unread(tab)
        assert (got["room_id"], got["unread"], got["last_read_message_id"]) == (
            room.pk,
            0,
            message.pk,
        )
        await tab.disconnect()


async def test_a_deleted_message_lowers_the_count(room, alice, bob):
    b = await notifications_socket(bob)
    message = await post(room=room, author=alice, content="oops")
    assert (await next_room_unread(b))["unread"] == 1
    await sync_to_async(delete_chat_message)(message=message, deleted_by=alice)
    assert (await next_room_unread(b))["unread"] == 0
    await b.disconnect()


async def test_muting_sends_the_new_state(room, bob):
    b = await notifications_socket(bob)
    await sync_to_async(set_room_muted)(room=room, user=bob, muted=True)
    got = await next_room_unread(b)
    assert (got["room_id"], got["muted"]) == (room.pk, True)
    await b.disconnect()


async def test_reading_shows_a_receipt_in_a_small_room(room, alice, bob):
    a = await connected(alice, room_path(room))
    message = await post(room=room, author=alice, content="seen?")
    await sync_to_async(mark_room_read)(room=room, user=bob, message_id=message.pk)
    while (got := await frame(a))["type"] != "read_receipt":
        pass
    assert got == {
        "type": "read_receipt",
        "room_id": room.pk,
        "user_id": bob.pk,
        "username": "bob",
        "display_name": "Bob B.",
        "message_id": message.pk,
    }
    await a.disconnect()


async def test_no_receipts_in_a_room_bigger_than_the_limit(board, alice, bob, settings):
    settings.READ_RECEIPTS_MAX_MEMBERS = 2

    @sync_to_async
    def big_room():
        extra = UserFactory(username="erin")
        add_board_members(board, extra)
        return ChatRoomFactory(board=board, name="big", created_by=alice, members=[bob, extra])

    room = await big_room()
    a = await connected(alice, room_path(room))
    message = await post(room=room, author=alice, content="seen?")
    assert (await frame(a))["type"] == "chat_message"
    await sync_to_async(mark_room_read)(room=room, user=bob, message_id=message.pk)
    assert await silent(a)
    await a.disconnect()


async def test_a_burst_of_messages_is_recounted_once_more_not_once_each(room, alice, bob, settings):
    """Ten messages committed together reach bob's socket as ten room events back to back:
    the first starts a recount, the rest make one more after UNREAD_RECOUNT_SECONDS, and the
    last frame has the exact count."""
    from django.db import transaction

    settings.UNREAD_RECOUNT_SECONDS = 0.2
    b = await notifications_socket(bob)

    def burst() -> None:
        with transaction.atomic():
            for n in range(10):
                post_chat_message(room=room, author=alice, content=f"m{n}")

    await sync_to_async(burst)()
    frames = [await next_room_unread(b)]
    while frames[-1]["unread"] < 10:
        frames.append(await next_room_unread(b))
    # At most one more recount follows (it may repeat the exact count), then nothing.
    more = await frames_until_quiet(b, quiet=0.6)
    counts = [f["unread"] for f in frames + more if f["type"] == "room_unread"]
    assert counts[-1] == 10
    assert len(counts) <= 2, counts
    await b.disconnect()

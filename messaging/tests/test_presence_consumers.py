"""Presence frames on the sockets (issue 11): a page's `heartbeat` over a socket it has open
makes its user online/away; closing the last one makes them offline; the rooms and boards the
user can read hear `{"type": "presence", "user_id", "username", "status"}`, at most one per
user per PRESENCE_FRAME_INTERVAL_SECONDS (shrunk here), the last one carrying the latest
state."""

from __future__ import annotations

import itertools
import json
import math
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from messaging import presence_live
from messaging.tests.sockets import (
    close_worker_thread_connections,  # noqa: F401 - fixture
    connected,
    frame,
    room_path,
    send,
    silent,
    task_path,
)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_worker_thread_connections"),
]

INTERVAL = 1.0


@pytest.fixture(autouse=True)
def _short_interval(settings):
    settings.PRESENCE_FRAME_INTERVAL_SECONDS = INTERVAL


def board_path(board) -> str:
    return f"/ws/board/{board.pk}/"


async def presence_frames(communicator, count: int = 1) -> list[dict]:
    """The next `count` presence frames (join/leave and other frames skipped)."""
    found = []
    while len(found) < count:
        data = await frame(communicator)
        if data["type"] == "presence":
            found.append(data)
    return found


async def no_presence_within(communicator, seconds: float) -> bool:
    """No presence frame arrives in `seconds` (other frames are skipped)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if await communicator.receive_nothing(timeout=left):
            return True
        if (await frame(communicator))["type"] == "presence":
            return False
    return True


async def watching(user, path: str):
    """A page of `user` that speaks presence (so it hears presence frames)."""
    socket = await connected(user, path)
    await send(socket, {"type": "heartbeat", "visible": True, "idle": False})
    return socket


async def test_bob_opening_a_page_reaches_alices_room_page(room, alice, bob):
    a = await watching(alice, room_path(room))
    await presence_frames(a)  # her own

    b = await connected(bob, room_path(room))
    await send(b, {"type": "heartbeat", "visible": True, "idle": False})

    (seen,) = await presence_frames(a)
    assert seen == {"type": "presence", "user_id": bob.pk, "username": "bob", "status": "online"}
    await b.disconnect()
    await a.disconnect()


async def test_hidden_then_closed_goes_away_then_offline(room, board, alice, bob):
    a = await watching(alice, board_path(board))
    await presence_frames(a)
    b = await watching(bob, room_path(room))
    assert (await presence_frames(a))[0]["status"] == "online"

    await send(b, {"type": "heartbeat", "visible": False, "idle": False})
    assert (await presence_frames(a))[0]["status"] == "away"  # after the interval
    await b.disconnect()
    (gone,) = await presence_frames(a)
    assert (gone["username"], gone["status"]) == ("bob", "offline")
    await a.disconnect()


async def test_bob_stays_online_while_another_tab_is_open(room, task, alice, bob):
    a = await watching(alice, room_path(room))
    await presence_frames(a)
    tab1 = await watching(bob, room_path(room))
    tab2 = await watching(bob, task_path(task))
    assert (await presence_frames(a))[0]["status"] == "online"

    await tab1.disconnect()
    assert await no_presence_within(a, INTERVAL * 2)
    await tab2.disconnect()
    assert (await presence_frames(a))[0]["status"] == "offline"
    await a.disconnect()


async def test_a_page_that_starts_hearing_presence_learns_who_is_already_online(
    room, board, alice, bob, carol, dave
):
    """bob went online and carol away before alice's socket spoke presence, so no frame about
    them reached it: its first heartbeat is answered with them (by username), then the frames
    heard meanwhile (her own). Offline people, alice herself and people outside the board
    are left out, and a second heartbeat is not answered again."""
    from tests.factories import BoardFactory

    b = await watching(bob, room_path(room))
    c = await connected(carol, board_path(board))
    await send(c, {"type": "heartbeat", "visible": False, "idle": False})
    while (await presence_frames(c))[0]["username"] != "carol":
        pass  # her socket answers with bob first; her own frame says she is announced
    elsewhere = await sync_to_async(BoardFactory)(name="Dave's", created_by=dave)
    d = await watching(dave, board_path(elsewhere))
    await presence_frames(d)  # dave is announced (online) before alice looks

    a = await watching(alice, board_path(board))
    seen = [(f["username"], f["status"]) for f in await presence_frames(a, 3)]
    assert seen == [("bob", "online"), ("carol", "away"), ("alice", "online")]
    await send(a, {"type": "heartbeat", "visible": True, "idle": False})
    assert await no_presence_within(a, INTERVAL * 1.5)
    for socket in (a, b, c, d):
        await socket.disconnect()


async def test_the_room_socket_answers_its_first_heartbeat_with_its_readers(room, alice, bob):
    b = await watching(bob, room_path(room))
    await presence_frames(b)  # his own
    a = await watching(alice, room_path(room))
    first = await presence_frames(a)
    assert first == [{"type": "presence", "user_id": bob.pk, "username": "bob", "status": "online"}]
    await a.disconnect()
    await b.disconnect()


async def test_sockets_that_never_sent_a_heartbeat_hear_no_presence(room, alice, bob):
    a = await connected(alice, room_path(room))
    b = await watching(bob, room_path(room))
    assert (await frame(a))["type"] == "user_join"  # the old join frame, nothing else
    assert await silent(a, timeout=0.5)
    await b.disconnect()
    await a.disconnect()


async def test_someone_outside_the_room_and_board_hears_nothing(room, alice, bob, dave):
    from tests.factories import BoardFactory

    other = await sync_to_async(BoardFactory)(name="Dave's", created_by=dave)
    d = await watching(dave, board_path(other))
    await presence_frames(d)  # his own
    b = await watching(bob, room_path(room))
    assert await no_presence_within(d, INTERVAL * 1.5)
    await b.disconnect()
    await d.disconnect()


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "heartbeat"},
        {"type": "heartbeat", "visible": "yes"},
        {"type": "heartbeat", "visible": True, "idle": 1},
        {"type": "heartbeat", "visible": None},
    ],
)
async def test_a_bad_heartbeat_is_an_error_frame_and_the_socket_lives(room, alice, bad):
    a = await connected(alice, room_path(room))
    await send(a, bad)
    error = await frame(a)
    assert error["type"] == "error" and error["message"]
    await send(a, {"type": "heartbeat", "visible": True, "idle": False})
    assert (await presence_frames(a))[0]["status"] == "online"
    await a.disconnect()


async def test_a_flood_of_changes_is_one_frame_per_interval_ending_in_the_latest(room, alice, bob):
    a = await watching(alice, room_path(room))
    await presence_frames(a)
    b = await watching(bob, room_path(room))
    assert (await presence_frames(a))[0]["status"] == "online"

    started = time.time()
    for i in range(40):
        await send(b, {"type": "heartbeat", "visible": i % 2 == 0, "idle": False})
    await send(b, {"type": "heartbeat", "visible": False, "idle": True})  # last: away
    await b.receive_nothing(timeout=0.2)  # let bob's socket take them in
    ended = time.time()

    received = []
    while not await a.receive_nothing(timeout=INTERVAL * 2):
        data = json.loads(await a.receive_from())
        if data["type"] == "presence":
            received.append((time.time(), data["status"]))
    # one frame per interval at most: the flood's span, plus the trailing frame
    assert 1 <= len(received) <= math.ceil((ended - started) / INTERVAL) + 1
    assert received[-1][1] == "away"
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(received)]
    assert all(gap >= INTERVAL * 0.9 for gap in gaps), gaps
    await b.disconnect()
    await a.disconnect()


async def test_the_sweep_announces_a_connection_nobody_keeps_alive(settings, room, alice, bob):
    """A killed process closes nothing: its connections expire, and the sweep of a live
    process announces the user offline. Here bob's record is written as a dead process
    would have left it (no socket behind it)."""
    from messaging.services import presence as service

    a = await watching(alice, room_path(room))
    await presence_frames(a)
    # Bob's record expires a second after it was written; alice's (kept alive by her open
    # socket) has the usual TTL, so a loaded machine's late re-stamp cannot expire hers.
    settings.PRESENCE_CONNECTION_TTL_SECONDS = 1
    announcement = await sync_to_async(service.record_heartbeat)(
        user=bob, connection_id="dead-process", visible=True, idle=False
    )
    settings.PRESENCE_CONNECTION_TTL_SECONDS = 60
    await presence_live.deliver(get_channel_layer(), bob.pk, announcement)
    assert (await presence_frames(a))[0]["status"] == "online"

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        await presence_live.sweep_once(get_channel_layer(), claim=False)
        if not await a.receive_nothing(timeout=0.2):
            break
    (gone,) = await presence_frames(a)
    assert (gone["username"], gone["status"]) == ("bob", "offline")
    await a.disconnect()


async def test_a_socket_whose_access_ends_stops_counting(room, board, alice, bob):
    """bob is removed from the board while his board page is open: the server closes that
    socket for lost access and drops its presence connection with it, so he is offline,
    not kept online by a socket that no longer counts."""
    from kanban.services import remove_member
    from messaging.services import presence as service

    b = await watching(bob, board_path(board))
    await presence_frames(b)  # his own "online"

    await sync_to_async(remove_member)(board=board, user=bob, removed_by=alice)

    error = await frame(b)
    while error["type"] != "error":
        error = await frame(b)
    assert error["code"] == "access_gone"
    await b.wait()  # closed by the server
    statuses = await sync_to_async(service.presence_of)([bob])
    assert statuses[0]["status"] == "offline"

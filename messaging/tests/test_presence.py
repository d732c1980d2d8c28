"""Join/leave frames are coalesced per user and room: a flood of socket opens and closes
reaches the other members as a few frames, and the last one they get is the true state.

The outside test opened and closed a room socket 100 times in 3.4 s and every member got 200
presence frames. With PRESENCE_RATE_LIMIT "2/1s" at most two frames per one-second window go
out (the trailing frame included), so the bound follows from how many windows the flood
spanned, measured here with the same clock.
"""

from __future__ import annotations

import json
import math
import time

import pytest
from asgiref.sync import sync_to_async

from messaging.tests.sockets import (
    close_worker_thread_connections,  # noqa: F401 - fixture
    connected,
    frame,
    room_path,
)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_worker_thread_connections"),
]

PER_WINDOW, WINDOW = 2, 1.0


@pytest.fixture(autouse=True)
def _one_second_windows(settings):
    settings.PRESENCE_RATE_LIMIT = f"{PER_WINDOW}/{WINDOW:g}s"


async def drain_until_quiet(communicator, quiet: float = WINDOW * 1.5) -> list[dict]:
    """Every frame until none arrives for `quiet` seconds (longer than a window, so a
    trailing frame due at the end of the last window has arrived)."""
    received = []
    while not await communicator.receive_nothing(timeout=quiet):
        received.append(json.loads(await communicator.receive_from()))
    return received


def bound(started: float, ended: float) -> int:
    """Frames allowed: PER_WINDOW in each window the flood touched, plus the window of the
    trailing frame."""
    windows = math.floor(ended / WINDOW) - math.floor(started / WINDOW) + 1
    return PER_WINDOW * (windows + 1)


async def flood(user, room, cycles: int, *, stay: bool) -> tuple[float, float, object]:
    started = time.time()
    for _ in range(cycles):
        socket = await connected(user, room_path(room))
        await socket.disconnect()
    last = await connected(user, room_path(room)) if stay else None
    return started, time.time(), last


async def test_a_leave_flood_is_a_few_frames_ending_in_leave(room, alice, bob):
    a = await connected(alice, room_path(room))

    started, ended, _ = await flood(bob, room, 100, stay=False)
    received = await drain_until_quiet(a)

    assert {f["type"] for f in received} <= {"user_join", "user_leave"}
    assert all(f["user_id"] == bob.pk for f in received)
    assert 2 <= len(received) <= bound(started, ended), (len(received), ended - started)
    assert received[-1]["type"] == "user_leave"
    await a.disconnect()


async def test_a_flood_that_ends_connected_ends_in_join(room, alice, bob):
    a = await connected(alice, room_path(room))

    started, ended, b = await flood(bob, room, 100, stay=True)
    received = await drain_until_quiet(a)

    assert len(received) <= bound(started, ended)
    assert received[-1]["type"] == "user_join" and received[-1]["username"] == "bob"
    await b.disconnect()
    await a.disconnect()


async def test_an_ordinary_join_and_leave_go_out_at_once(room, alice, bob):
    a = await connected(alice, room_path(room))
    b = await connected(bob, room_path(room))
    assert (await frame(a))["type"] == "user_join"

    await b.disconnect()

    assert (await frame(a))["type"] == "user_leave"  # frame() waits 3 s at most, no window
    await a.disconnect()


async def test_each_user_has_their_own_allowance(room, alice, bob, carol):
    """bob's flood does not delay carol's join."""
    await sync_to_async(room.members.add)(carol)
    a = await connected(alice, room_path(room))
    await flood(bob, room, 5, stay=False)
    await drain_until_quiet(a)  # bob's frames, including his trailing one
    await flood(bob, room, 5, stay=False)  # bob over his allowance again

    c = await connected(carol, room_path(room))

    frames = [await frame(a) for _ in range(3)]
    assert {"type": "user_join", "user_id": carol.pk} in [
        {"type": f["type"], "user_id": f["user_id"]} for f in frames
    ]
    await c.disconnect()
    await a.disconnect()


@pytest.mark.services
async def test_the_allowance_is_shared_through_redis(settings, redis_url, room, alice, bob):
    """With the Redis cache (several processes) the counters live there."""
    import uuid

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
        }
    }
    a = await connected(alice, room_path(room))

    started, ended, _ = await flood(bob, room, 60, stay=False)
    received = await drain_until_quiet(a)

    assert 2 <= len(received) <= bound(started, ended)
    assert received[-1]["type"] == "user_leave"
    await a.disconnect()

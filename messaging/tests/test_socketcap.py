"""At most WS_MAX_SOCKETS_PER_USER open sockets per user; the extra handshake is refused.

The outside test opened 400 notification sockets in 4.7 s as a user in no board. Default
tier: through the full ASGI stack (Origin checks, session, cap, router) with the in-process
count. Services tier: the slots in the real Redis (a crashed process's slots expire). Two
real daphne processes sharing one cap: tests/test_security_socket_cap.py.
"""

from __future__ import annotations

import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from messaging import socketcap

pytestmark = pytest.mark.django_db(transaction=True)

HEADERS = [(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000")]


@pytest.fixture(autouse=True)
def _no_leftover_slots():
    socketcap._local.clear()
    yield
    socketcap._local.clear()


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def open_socket(cookie: bytes, path: str = "/ws/notifications/"):
    """(connected, communicator): the communicator is open when connected."""
    from kanban_board.asgi import application

    communicator = WebsocketCommunicator(application, path, headers=[*HEADERS, (b"cookie", cookie)])
    connected, _ = await communicator.connect(timeout=3)
    return connected, communicator


async def open_many(cookie: bytes, n: int) -> list[WebsocketCommunicator]:
    sockets = []
    for _ in range(n):
        connected, communicator = await open_socket(cookie)
        assert connected, f"socket {len(sockets) + 1} of {n} was refused"
        sockets.append(communicator)
    return sockets


async def close_all(sockets) -> None:
    for communicator in sockets:
        await communicator.disconnect()


# --- default tier -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_socket_past_the_cap_is_refused(settings, alice, bob):
    settings.WS_MAX_SOCKETS_PER_USER = 3
    alice_cookie = await sync_to_async(session_cookie)(alice)
    bob_cookie = await sync_to_async(session_cookie)(bob)
    sockets = await open_many(alice_cookie, 3)

    refused, _ = await open_socket(alice_cookie)
    other_user, bobs = await open_socket(bob_cookie)  # the cap is per user

    assert not refused
    assert other_user
    await bobs.disconnect()
    await close_all(sockets)


@pytest.mark.asyncio
async def test_the_cap_counts_every_kind_of_socket(settings, alice, room):
    settings.WS_MAX_SOCKETS_PER_USER = 2
    cookie = await sync_to_async(session_cookie)(alice)
    sockets = await open_many(cookie, 1)
    connected, chat = await open_socket(cookie, f"/ws/chat-room/{room.pk}/")
    assert connected

    refused, _ = await open_socket(cookie, f"/ws/chat-room/{room.pk}/")

    assert not refused
    await chat.disconnect()
    await close_all(sockets)


@pytest.mark.asyncio
async def test_closing_a_socket_frees_its_slot(settings, alice):
    settings.WS_MAX_SOCKETS_PER_USER = 2
    cookie = await sync_to_async(session_cookie)(alice)
    sockets = await open_many(cookie, 2)
    assert not (await open_socket(cookie))[0]

    await sockets.pop().disconnect()
    connected, again = await open_socket(cookie)

    assert connected
    await again.disconnect()
    await close_all(sockets)


@pytest.mark.asyncio
async def test_a_refused_handshake_does_not_use_a_slot(settings, alice, room, dave):
    """A socket the consumer refuses (not a member) gives its slot back.

    After refusing a handshake the server tells the application the socket is gone (daphne
    sends websocket.disconnect), which ends it and releases its slot. The communicator does
    not: without the explicit disconnect the slot went back only when the dropped
    communicator was garbage-collected, which raced the next handshake on a busy machine."""
    settings.WS_MAX_SOCKETS_PER_USER = 1
    cookie = await sync_to_async(session_cookie)(dave)
    for _ in range(3):
        connected, refused = await open_socket(cookie, f"/ws/chat-room/{room.pk}/")
        assert not connected
        await refused.disconnect()

    connected, socket = await open_socket(cookie)

    assert connected
    await socket.disconnect()


# --- services tier: slots in Redis --------------------------------------------------------


@pytest.fixture
def redis_slots(redis_url, settings):
    """This test's cache (and so its socket slots) in the real Redis."""
    import redis

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
        }
    }
    client = redis.Redis.from_url(redis_url)
    yield client
    for key in client.scan_iter("wscap:user:*"):
        client.delete(key)


@pytest.mark.services
@pytest.mark.asyncio
async def test_redis_slots_cap_and_release(settings, redis_slots, alice):
    settings.WS_MAX_SOCKETS_PER_USER = 3
    redis_slots.delete(socketcap.slot_key(alice.pk))
    cookie = await sync_to_async(session_cookie)(alice)
    sockets = await open_many(cookie, 3)

    assert redis_slots.zcard(socketcap.slot_key(alice.pk)) == 3
    assert not (await open_socket(cookie))[0]
    await close_all(sockets)
    assert redis_slots.zcard(socketcap.slot_key(alice.pk)) == 0
    assert socketcap._local == {}  # nothing was counted in the process


@pytest.mark.services
@pytest.mark.asyncio
async def test_slots_of_a_crashed_process_expire(settings, redis_slots, alice):
    """Slots claimed long ago and never refreshed (their process died) no longer count."""
    settings.WS_MAX_SOCKETS_PER_USER = 2
    redis_slots.delete(socketcap.slot_key(alice.pk))
    long_ago = time.time() - socketcap.SLOT_TTL - 1
    assert await socketcap.claim(alice.pk, now=long_ago)
    assert await socketcap.claim(alice.pk, now=long_ago)
    cookie = await sync_to_async(session_cookie)(alice)

    sockets = await open_many(cookie, 2)

    assert redis_slots.zcard(socketcap.slot_key(alice.pk)) == 2
    await close_all(sockets)

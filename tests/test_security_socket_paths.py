"""An unknown /ws/... path is refused at the handshake, quietly: no 500, no traceback.

Before, URLRouter raised "No route found for path" for any path it did not know (a 500 and
a traceback in the log per request, no log-in needed). Through the full ASGI stack (Origin
checks, session, router), as a browser or a scanner would connect.
"""

from __future__ import annotations

import logging

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

HOST = [(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000")]
UNKNOWN_PATHS = [
    "/ws/nope/",
    "/ws/",
    "/ws/chat-room/abc/",
    "/ws/chat-room/²/",
    "/ws/task-comments/1/extra/",
    "/ws/notifications/x",
    "/not-ws-at-all",
]


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def handshake(path: str, headers: list[tuple[bytes, bytes]]) -> bool:
    from kanban_board.asgi import application

    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=3)
    if connected:
        await communicator.disconnect()
    return connected


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
async def test_unknown_path_is_refused_without_an_error(path, caplog):
    with caplog.at_level(logging.WARNING):
        assert not await handshake(path, HOST)

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("path", UNKNOWN_PATHS[:3])
async def test_unknown_path_is_refused_for_a_logged_in_user_too(path, alice, caplog):
    cookie = await sync_to_async(session_cookie)(alice)

    with caplog.at_level(logging.WARNING):
        assert not await handshake(path, [*HOST, (b"cookie", cookie)])

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_known_path_still_connects(alice):
    """The fallback comes after the real routes: they still match."""
    cookie = await sync_to_async(session_cookie)(alice)

    assert await handshake("/ws/notifications/", [*HOST, (b"cookie", cookie)])

"""WebSocketCommunicator helpers shared by the consumer tests (test_consumers.py,
test_presence.py): sockets on the URL router with scope["user"] set, frame readers, and the
fixture that closes the ORM connections consumers opened in asgiref's worker thread."""

from __future__ import annotations

import json

import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connections

from messaging.routing import websocket_urlpatterns

TIMEOUT = 3


@pytest_asyncio.fixture
async def close_worker_thread_connections():
    """Consumers and sync_to_async calls run ORM code in asgiref's worker thread, whose
    connections outlive the test (CONN_MAX_AGE); close them so the test database can be
    dropped at the end of the session (PostgreSQL refuses while sessions are open)."""
    yield
    await sync_to_async(connections.close_all)()


def socket_for(user, path: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    return communicator


async def connected(user, path: str) -> WebsocketCommunicator:
    communicator = socket_for(user, path)
    ok, code = await communicator.connect(timeout=TIMEOUT)
    assert ok, f"{user} was refused ({code})"
    return communicator


async def frame(communicator: WebsocketCommunicator) -> dict:
    return json.loads(await communicator.receive_from(timeout=TIMEOUT))


async def frames(communicator: WebsocketCommunicator, n: int) -> list[dict]:
    return [await frame(communicator) for _ in range(n)]


async def silent(communicator: WebsocketCommunicator, timeout: float = 0.3) -> bool:
    return await communicator.receive_nothing(timeout=timeout)


async def send(communicator: WebsocketCommunicator, data) -> None:
    await communicator.send_to(text_data=json.dumps(data))


def room_path(room) -> str:
    return f"/ws/chat-room/{room.pk}/"


def task_path(task) -> str:
    return f"/ws/task-comments/{task.pk}/"

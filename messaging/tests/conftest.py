"""Fixtures for the messaging tests: a board (alice creates it; bob and carol are members),
a room on it with alice and bob (carol is on the board but not in the room), a task on the
board, and dave, who belongs to nothing."""

from __future__ import annotations

import pytest

from tests.factories import BoardFactory, ChatRoomFactory, ColumnFactory, TaskFactory, UserFactory


@pytest.fixture
def dave(db):
    return UserFactory(username="dave", display_name="Dave D.")


@pytest.fixture
def board(alice, bob, carol):
    return BoardFactory(name="Launch", created_by=alice, members=[bob, carol])


@pytest.fixture
def room(board, alice, bob):
    return ChatRoomFactory(board=board, name="general", created_by=alice, members=[bob])


@pytest.fixture
def task(board):
    return TaskFactory(column=ColumnFactory(board=board), title="Ship it")


class GroupListener:
    """A channel subscribed to a group on the current (in-memory) layer, for asserting what a
    service broadcast: `events()` drains the raw channel-layer events waiting for it."""

    def __init__(self, group: str) -> None:
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer

        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(group, self.channel)

    def events(self, timeout: float = 0.1) -> list[dict]:
        import asyncio

        from asgiref.sync import async_to_sync

        out: list[dict] = []

        async def drain() -> None:
            while True:
                try:
                    out.append(await asyncio.wait_for(self.layer.receive(self.channel), timeout))
                except TimeoutError:
                    return

        async_to_sync(drain)()
        return out

    def payloads(self, timeout: float = 0.1) -> list[dict]:
        """The JSON payloads of the prepared-text events waiting (room/thread broadcasts and
        per-user pushes alike)."""
        import json

        from messaging import realtime

        kinds = (realtime.FORWARD, realtime.USER_PUSH)
        return [json.loads(e["text"]) for e in self.events(timeout) if e["type"] in kinds]


@pytest.fixture
def listen():
    """Factory: listen("chat_room_1") -> GroupListener."""
    return GroupListener


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, settings):
    """Factories hash a password per user; the production hasher makes that the bulk of
    these tests' run time and proves nothing here. Browser tests keep the real hashers: the
    daphne child process must be able to check the passwords."""
    if request.node.get_closest_marker("browser"):
        return
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

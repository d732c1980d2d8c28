"""Two people dragging at once on PostgreSQL: the server decides the order. Every move is
serialized by the board's row lock, positions end gap-free, and replaying the frames a board
socket received, in version order, gives exactly the database's board.

Services tier: needs DATABASE_URL (PostgreSQL, where row locks are real) and REDIS_URL (the
channel layer the moving threads broadcast through)."""

from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connections

from kanban import services
from kanban.models import Board, Column, Task
from messaging.routing import websocket_urlpatterns
from tests.factories import UserFactory, add_board_members

pytestmark = [pytest.mark.services, pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

ROUNDS = 12
TIMEOUT = 10


@pytest_asyncio.fixture(autouse=True)
async def _close_connections():
    yield
    await sync_to_async(connections.close_all)()


def db_orders(board_id: int) -> dict[int, list[int]]:
    return {
        column.pk: list(column.tasks.order_by("position").values_list("pk", flat=True))
        for column in Column.objects.filter(board_id=board_id)
    }


def db_positions(board_id: int) -> dict[int, list[int]]:
    return {
        column.pk: list(column.tasks.order_by("position").values_list("position", flat=True))
        for column in Column.objects.filter(board_id=board_id)
    }


def make_board():
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    board = services.create_board(name="Race", created_by=alice)
    add_board_members(board, bob)
    columns = list(board.columns.order_by("position"))
    for column in columns:
        for n in range(4):
            services.create_task(column=column, title=f"{column.name} {n}", created_by=alice)
    board.refresh_from_db()
    return board, alice, bob


def concurrent_moves(board_id: int, users, seed: int) -> None:
    """Two threads, released together by a barrier, each move a random task to a random
    column and position; half the rounds both move the same task."""
    rng = random.Random(seed)
    task_ids = list(Task.objects.filter(column__board_id=board_id).values_list("pk", flat=True))
    column_ids = list(Column.objects.filter(board_id=board_id).values_list("pk", flat=True))
    same = rng.random() < 0.5
    first = rng.choice(task_ids)
    plans = [
        (users[0], first, rng.choice(column_ids), rng.randint(0, 5)),
        (
            users[1],
            first if same else rng.choice(task_ids),
            rng.choice(column_ids),
            rng.randint(0, 5),
        ),
    ]
    barrier = threading.Barrier(len(plans))

    def move(user, task_id, column_id, position) -> None:
        try:
            task = Task.objects.select_related("column__board").get(pk=task_id)
            column = Column.objects.get(pk=column_id)
            barrier.wait(timeout=5)
            services.move_task(task=task, to_column=column, position=position, moved_by=user)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(len(plans)) as pool:
        for future in [pool.submit(move, *plan) for plan in plans]:
            future.result()


async def test_concurrent_moves_end_gap_free_and_equal_to_what_sockets_were_told(
    postgres, redis_layer
):
    board, alice, bob = await sync_to_async(make_board)()
    start_version = board.version
    start = await sync_to_async(db_orders)(board.pk)

    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/board/{board.pk}/")
    socket.scope["user"] = alice
    assert (await socket.connect(timeout=TIMEOUT))[0]

    for seed in range(ROUNDS):
        await sync_to_async(concurrent_moves, thread_sensitive=False)(board.pk, (alice, bob), seed)

    frames = []
    while len(frames) < 2 * ROUNDS:
        data = json.loads(await socket.receive_from(timeout=TIMEOUT))
        if data["type"] == "task_moved":
            frames.append(data)
    await socket.disconnect()

    # One frame per move, numbered without gaps or repeats.
    versions = sorted(f["version"] for f in frames)
    assert versions == list(range(start_version + 1, start_version + 1 + 2 * ROUNDS))

    # Replaying the frames in version order gives the database's board.
    told = {column_id: list(ids) for column_id, ids in start.items()}
    for f in sorted(frames, key=lambda f: f["version"]):
        for column in f["columns"]:
            told[column["id"]] = column["task_ids"]
    final = await sync_to_async(db_orders)(board.pk)
    assert told == final

    # Gap-free positions, and no task lost or duplicated.
    for positions in (await sync_to_async(db_positions)(board.pk)).values():
        assert positions == list(range(len(positions)))
    assert sorted(t for ids in final.values() for t in ids) == sorted(
        t for ids in start.values() for t in ids
    )
    assert (await sync_to_async(Board.objects.get)(pk=board.pk)).version == versions[-1]

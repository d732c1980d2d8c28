"""ws/board/<board_id>/: who may connect, each board frame as a member's socket receives it,
"who's here", and access ending while the socket is open.

Expected frames are written out as literals (ids aside), not built with the payload
builders under test."""

from __future__ import annotations

import datetime
import json

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import connections
from django.test import Client

from kanban import cards, selectors, services
from kanban.models import Board, Column, Task
from messaging.consumers.base import ACCESS_GONE
from messaging.routing import websocket_urlpatterns
from messaging.services.editing import delete_task_comment
from messaging.services.posting import post_task_comment
from tests.factories import UserFactory, add_board_members, join_organization

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 3


@pytest_asyncio.fixture(autouse=True)
async def _close_worker_thread_connections():
    yield
    await sync_to_async(connections.close_all)()


def board_path(board_id: int) -> str:
    return f"/ws/board/{board_id}/"


def socket_for(user, board_id: int) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), board_path(board_id))
    communicator.scope["user"] = user
    return communicator


async def connected(user, board_id: int) -> WebsocketCommunicator:
    communicator = socket_for(user, board_id)
    ok, code = await communicator.connect(timeout=TIMEOUT)
    assert ok, f"{user} was refused ({code})"
    return communicator


async def frame(communicator: WebsocketCommunicator) -> dict:
    return json.loads(await communicator.receive_from(timeout=TIMEOUT))


async def board_frame(communicator: WebsocketCommunicator) -> dict:
    """The next frame that is not "who's here"."""
    while True:
        data = await frame(communicator)
        if data["type"] not in ("viewer_join", "viewer_leave"):
            return data


def run(fn, **kwargs):
    return sync_to_async(fn)(**kwargs)


@pytest_asyncio.fixture
async def board(alice, bob) -> Board:
    board = await run(services.create_board, name="Launch", created_by=alice)
    await sync_to_async(add_board_members)(board, bob)
    return board


@pytest_asyncio.fixture
async def columns(board) -> dict[str, Column]:
    return await sync_to_async(lambda: {c.name: c for c in board.columns.all()})()


@pytest_asyncio.fixture
async def alice_socket(board, alice):
    communicator = await connected(alice, board.pk)
    yield communicator
    await communicator.disconnect()


async def version_of(board: Board) -> int:
    return await sync_to_async(lambda: Board.objects.get(pk=board.pk).version)()


# --- access -----------------------------------------------------------------------------


async def test_member_connects(board, bob):
    communicator = await connected(bob, board.pk)
    await communicator.disconnect()


async def test_stranger_and_missing_board_are_refused_alike(board, carol):
    for board_id in (board.pk, 999_999):
        ok, _ = await socket_for(carol, board_id).connect(timeout=TIMEOUT)
        assert not ok


async def test_anonymous_is_refused(board):
    ok, _ = await socket_for(AnonymousUser(), board.pk).connect(timeout=TIMEOUT)
    assert not ok


async def test_removed_member_is_told_and_closed(board, alice, bob, alice_socket):
    b = await connected(bob, board.pk)
    await run(services.remove_member, board=board, user=bob, removed_by=alice)

    removed = await board_frame(b)  # the member_removed frame reaches bob before the close
    assert removed["type"] == "member_removed"
    error = await board_frame(b)
    assert (error["type"], error["code"]) == ("error", "access_gone")
    assert await b.receive_output(timeout=TIMEOUT) == {
        "type": "websocket.close",
        "code": ACCESS_GONE,
    }

    # alice's socket stays and still hears the board
    assert (await board_frame(alice_socket))["type"] == "member_removed"
    await run(services.create_column, board=board, name="QA", created_by=alice)
    assert (await board_frame(alice_socket))["type"] == "column_created"


async def test_deleting_the_board_closes_its_sockets(board, alice, alice_socket):
    await run(services.delete_board, board=board, deleted_by=alice)
    error = await board_frame(alice_socket)
    assert error["code"] == "access_gone"
    assert (await alice_socket.receive_output(timeout=TIMEOUT))["code"] == ACCESS_GONE


async def test_client_frames_get_an_error_not_a_crash(alice_socket):
    await alice_socket.send_to(text_data=json.dumps({"type": "move_task"}))
    error = await board_frame(alice_socket)
    assert error["type"] == "error"
    await alice_socket.send_to(text_data="not json")
    assert (await board_frame(alice_socket))["message"] == "That frame is not valid JSON."


async def test_full_stack_checks_origin_and_session(board, bob):
    from kanban_board.asgi import application

    client = Client()
    await sync_to_async(client.force_login)(bob)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    host = (b"host", b"127.0.0.1:8000")

    async def attempt(origin: bytes) -> bool:
        communicator = WebsocketCommunicator(
            application,
            board_path(board.pk),
            headers=[host, (b"origin", origin), (b"cookie", cookie)],
        )
        ok, _ = await communicator.connect(timeout=TIMEOUT)
        if ok:
            await communicator.disconnect()
        return ok

    assert await attempt(b"http://127.0.0.1:8000")
    assert not await attempt(b"https://evil.example")


# --- who's here -------------------------------------------------------------------------


async def test_viewers_see_each_other_join_and_leave(board, alice, bob, alice_socket):
    b = await connected(bob, board.pk)

    joined = await frame(alice_socket)
    assert (joined["type"], joined["user_id"], joined["display_name"]) == (
        "viewer_join",
        bob.pk,
        "Bob B.",
    )
    already_here = await frame(b)  # alice's socket answers the newcomer directly
    assert (already_here["type"], already_here["user_id"]) == ("viewer_join", alice.pk)

    await b.disconnect()
    left = await frame(alice_socket)
    assert (left["type"], left["viewer_id"]) == ("viewer_leave", joined["viewer_id"])


# --- task frames ------------------------------------------------------------------------


async def test_task_created_carries_the_card_and_the_column_order(
    board, columns, bob, alice_socket
):
    before = await version_of(board)
    task = await run(
        services.create_task, column=columns["To Do"], title="Write post", created_by=bob
    )

    data = await board_frame(alice_socket)
    assert data["type"] == "task_created"
    assert (data["board_id"], data["version"]) == (board.pk, before + 1)
    assert (data["task_id"], data["column_id"]) == (task.pk, columns["To Do"].pk)
    assert data["columns"] == [{"id": columns["To Do"].pk, "task_ids": [task.pk]}]
    card = data["task"]
    assert card["title"] == "Write post"
    assert card["assignee"] is None
    assert card["priority"] == "medium"
    assert card["labels"] == []
    assert card["checklist"] == {"done": 0, "total": 0}
    assert card["comment_count"] == 0
    assert card["url"] == f"/tasks/{task.pk}/"
    assert [a["kind"] for a in data["activities"]] == ["created"]
    assert data["activities"][0]["actor"]["username"] == "bob"


async def test_task_updated_carries_title_assignee_priority_due_date_and_labels(
    board, columns, alice, bob, alice_socket
):
    task = await run(services.create_task, column=columns["To Do"], title="Draft", created_by=alice)
    label = await run(cards.create_label, board=board, name="Bug", colour="red", created_by=alice)
    await board_frame(alice_socket)
    await board_frame(alice_socket)

    await run(
        services.update_task,
        task=task,
        title="Final",
        description="",
        assignee=bob,
        priority="urgent",
        due_date=datetime.date(2026, 12, 24),
        labels=[label],
        updated_by=bob,
    )

    data = await board_frame(alice_socket)
    assert (data["type"], data["task_id"]) == ("task_updated", task.pk)
    card = data["task"]
    assert card["title"] == "Final"
    assert card["assignee"] == {"id": bob.pk, "username": "bob", "display_name": "Bob B."}
    assert (card["priority"], card["priority_label"]) == ("urgent", "Urgent")
    assert card["due_date"] == "2026-12-24"
    assert card["labels"] == [{"id": label.pk, "name": "Bug", "colour": "red"}]
    # newest first: labels were recorded last
    assert [a["kind"] for a in data["activities"]] == ["labels", "due_date", "assigned", "title"]
    assert data["activities"][3]["text"] == "renamed this from “Draft” to “Final”"


async def test_task_moved_names_position_and_new_order_of_both_columns(
    board, columns, alice, bob, alice_socket
):
    todo, doing = columns["To Do"], columns["In Progress"]
    a = await run(services.create_task, column=todo, title="A", created_by=alice)
    b = await run(services.create_task, column=todo, title="B", created_by=alice)
    c = await run(services.create_task, column=doing, title="C", created_by=alice)
    for _ in range(3):
        await board_frame(alice_socket)

    await run(services.move_task, task=a, to_column=doing, position=1, moved_by=bob)

    data = await board_frame(alice_socket)
    assert data["type"] == "task_moved"
    assert (data["task_id"], data["column_id"], data["position"]) == (a.pk, doing.pk, 1)
    assert data["from_column_id"] == todo.pk
    assert data["columns"] == [
        {"id": todo.pk, "task_ids": [b.pk]},
        {"id": doing.pk, "task_ids": [c.pk, a.pk]},
    ]
    assert data["activities"][0]["text"] == "moved this from To Do to In Progress"


async def test_task_deleted_names_the_task_and_the_column_left(board, columns, alice, alice_socket):
    todo = columns["To Do"]
    a = await run(services.create_task, column=todo, title="A", created_by=alice)
    b = await run(services.create_task, column=todo, title="B", created_by=alice)
    await board_frame(alice_socket)
    await board_frame(alice_socket)

    a_id = a.pk  # delete() clears it
    await run(services.delete_task, task=a, deleted_by=alice)

    data = await board_frame(alice_socket)
    assert (data["type"], data["task_id"], data["column_id"]) == ("task_deleted", a_id, todo.pk)
    assert data["columns"] == [{"id": todo.pk, "task_ids": [b.pk]}]


async def test_comment_count_reaches_the_board(board, columns, alice, bob, alice_socket):
    task = await run(services.create_task, column=columns["To Do"], title="A", created_by=alice)
    await board_frame(alice_socket)

    await run(post_task_comment, task=task, author=bob, content="on it")

    data = await board_frame(alice_socket)
    assert (data["type"], data["task_id"]) == ("comment_count", task.pk)
    assert data["task"]["comment_count"] == 1


async def test_deleting_a_comment_lowers_the_cards_count_live(
    board, columns, alice, bob, alice_socket
):
    task = await run(services.create_task, column=columns["To Do"], title="A", created_by=alice)
    await board_frame(alice_socket)
    first = await run(post_task_comment, task=task, author=bob, content="on it")
    await board_frame(alice_socket)
    await run(post_task_comment, task=task, author=bob, content="done")
    assert (await board_frame(alice_socket))["task"]["comment_count"] == 2

    await run(delete_task_comment, comment=first, deleted_by=bob)

    data = await board_frame(alice_socket)
    assert (data["type"], data["task_id"]) == ("comment_count", task.pk)
    assert data["task"]["comment_count"] == 1  # the tombstone is not counted
    state = await run(selectors.board_state, board=board)
    assert [t["comment_count"] for t in state["tasks"] if t["id"] == task.pk] == [1]


async def test_checklist_changes_update_the_cards_count(board, columns, alice, alice_socket):
    task = await run(services.create_task, column=columns["To Do"], title="A", created_by=alice)
    await board_frame(alice_socket)

    first = await run(cards.add_checklist_item, task=task, text="one", added_by=alice)
    data = await board_frame(alice_socket)
    assert (data["type"], data["task_id"]) == ("checklist_updated", task.pk)
    assert data["task"]["checklist"] == {"done": 0, "total": 1}
    await run(cards.add_checklist_item, task=task, text="two", added_by=alice)
    await board_frame(alice_socket)

    await run(cards.set_checklist_item_done, item=first, done=True, changed_by=alice)
    data = await board_frame(alice_socket)
    assert data["task"]["checklist"] == {"done": 1, "total": 2}

    await run(cards.move_checklist_item, item=first, position=1, moved_by=alice)
    data = await board_frame(alice_socket)
    assert [(i["text"], i["done"], i["position"]) for i in data["items"]] == [
        ("two", False, 0),
        ("one", True, 1),
    ]


async def test_label_changes_reach_the_board(board, columns, alice, alice_socket):
    task = await run(services.create_task, column=columns["To Do"], title="A", created_by=alice)
    await board_frame(alice_socket)
    label = await run(cards.create_label, board=board, name="Bug", colour="red", created_by=alice)
    data = await board_frame(alice_socket)
    assert data["type"] == "labels_updated"
    assert data["labels"] == [{"id": label.pk, "name": "Bug", "colour": "red"}]

    await run(services.set_task_labels, task=task, labels=[label], changed_by=alice)
    data = await board_frame(alice_socket)
    assert data["type"] == "task_updated"
    assert data["task"]["labels"] == [{"id": label.pk, "name": "Bug", "colour": "red"}]
    assert data["activities"][0]["text"] == "changed labels: added Bug"

    await run(cards.delete_label, label=label, deleted_by=alice)
    data = await board_frame(alice_socket)
    assert (data["type"], data["labels"], data["task_ids"]) == ("labels_updated", [], [task.pk])


# --- column frames ----------------------------------------------------------------------


async def test_column_frames_carry_the_board_order(board, columns, alice, alice_socket):
    todo, doing, done = columns["To Do"], columns["In Progress"], columns["Done"]

    qa = await run(services.create_column, board=board, name="QA", created_by=alice)
    data = await board_frame(alice_socket)
    assert (data["type"], data["column_id"]) == ("column_created", qa.pk)
    assert data["column"] == {"id": qa.pk, "name": "QA", "position": 3}
    assert data["column_order"] == [todo.pk, doing.pk, done.pk, qa.pk]

    await run(services.rename_column, column=qa, name="Review", renamed_by=alice)
    data = await board_frame(alice_socket)
    assert (data["type"], data["column"]["name"]) == ("column_updated", "Review")

    await run(services.move_column, column=qa, position=0, moved_by=alice)
    data = await board_frame(alice_socket)
    assert (data["type"], data["position"]) == ("column_moved", 0)
    assert data["column_order"] == [qa.pk, todo.pk, doing.pk, done.pk]

    qa_id = qa.pk
    await run(services.delete_column, column=qa, deleted_by=alice)
    data = await board_frame(alice_socket)
    assert (data["type"], data["column_id"]) == ("column_deleted", qa_id)
    assert data["column_order"] == [todo.pk, doing.pk, done.pk]


# --- member frames ----------------------------------------------------------------------


async def test_member_added_and_removed(board, alice, alice_socket):
    carol = await sync_to_async(UserFactory)(username="carol", display_name="Carol C.")
    await sync_to_async(join_organization)(board.organization, carol)
    await run(services.add_member, board=board, username="carol", added_by=alice)
    data = await board_frame(alice_socket)
    assert (data["type"], data["user_id"]) == ("member_added", carol.pk)
    assert data["member"] == {"id": carol.pk, "username": "carol", "display_name": "Carol C."}

    await run(services.remove_member, board=board, user=carol, removed_by=alice)
    data = await board_frame(alice_socket)
    assert (data["type"], data["user_id"]) == ("member_removed", carol.pk)


# --- versions ---------------------------------------------------------------------------


async def test_each_change_is_one_frame_with_the_next_version(board, columns, alice, alice_socket):
    start = await version_of(board)
    task = await run(services.create_task, column=columns["To Do"], title="A", created_by=alice)
    await run(services.move_task, task=task, to_column=columns["Done"], position=0, moved_by=alice)
    await run(services.create_column, board=board, name="QA", created_by=alice)

    versions = [(await board_frame(alice_socket))["version"] for _ in range(3)]
    assert versions == [start + 1, start + 2, start + 3]
    assert await version_of(board) == start + 3


async def test_a_refused_change_sends_nothing_and_keeps_the_version(
    board, columns, alice, alice_socket
):
    start = await version_of(board)
    with pytest.raises(Exception, match="cannot be empty"):
        await run(services.create_task, column=columns["To Do"], title="  ", created_by=alice)
    assert await alice_socket.receive_nothing(timeout=0.3)
    assert await version_of(board) == start
    assert not await sync_to_async(Task.objects.exists)()

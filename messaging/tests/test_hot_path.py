"""The chat socket's hot path (issue 16): what one chat message costs in SQL, and that the
per-socket access cache still lets every revocation through.

The query guard counts statements on every database connection of the process (the consumers'
ORM work runs on worker threads, each with its own connection), through the full ASGI stack
with a real session. It runs in every tier: SQLite by default, PostgreSQL in the services tier.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.db.backends import utils as db_utils
from django.test import Client

from messaging.consumers.base import ACCESS_GONE
from messaging.models import ChatMessage, UserTypingStatus
from messaging.services.rooms import remove_room_member

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 5
# The budget for one chat message on the socket path: queries, that is statements
# that read or write rows. Transaction control (SQLite's explicit BEGIN; PostgreSQL's is
# implicit in the driver) is not a query and is left out, so both engines count the same.
MAX_QUERIES_PER_CHAT_MESSAGE = 4
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@pytest_asyncio.fixture(autouse=True)
async def _close_worker_thread_connections():
    yield
    await sync_to_async(connections.close_all)()


class StatementLog:
    """Every SQL statement executed in the process, from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statements: list[str] = []
        self.recording = False

    def clear(self) -> None:
        with self.lock:
            self.statements = []

    def take(self) -> list[str]:
        with self.lock:
            taken, self.statements = self.statements, []
        return taken


@contextmanager
def all_statements():
    """Count statements at the cursor-wrapper class, so that every thread's connection is
    included (CaptureQueriesContext sees only the calling thread's connection)."""
    log = StatementLog()
    original = db_utils.CursorWrapper._execute_with_wrappers

    def counted(self, sql, params, many, executor):
        with log.lock:
            log.statements.append(sql)
        return original(self, sql, params, many, executor)

    db_utils.CursorWrapper._execute_with_wrappers = counted
    try:
        yield log
    finally:
        db_utils.CursorWrapper._execute_with_wrappers = original


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def open_room_socket(room, user) -> WebsocketCommunicator:
    from kanban_board.asgi import application

    cookie = await sync_to_async(session_cookie)(user)
    communicator = WebsocketCommunicator(
        application,
        f"/ws/chat-room/{room.pk}/",
        headers=[
            (b"host", b"127.0.0.1:8000"),
            (b"origin", b"http://127.0.0.1:8000"),
            (b"cookie", cookie),
        ],
    )
    ok, code = await communicator.connect(timeout=TIMEOUT)
    assert ok, f"{user} was refused ({code})"
    return communicator


async def frames_until(communicator: WebsocketCommunicator, kind: str) -> list[dict]:
    """Frames up to and including the first of type `kind`."""
    got: list[dict] = []
    while not got or got[-1]["type"] != kind:
        got.append(json.loads(await communicator.receive_from(timeout=TIMEOUT)))
    return got


async def send(communicator: WebsocketCommunicator, data: dict) -> None:
    await communicator.send_to(text_data=json.dumps(data))


async def posts_finished(count: int) -> None:
    """Wait until `count` chat posts have returned, their on-commit work included (the ack
    may come from the post's broadcast, before its thread has finished)."""
    import asyncio

    from prometheus_client import REGISTRY

    def done() -> float:
        value = REGISTRY.get_sample_value(
            "taskflow_message_post_seconds_count", {"kind": "chat_message"}
        )
        return value or 0.0

    async with asyncio.timeout(TIMEOUT):
        while done() < count:
            await asyncio.sleep(0.01)  # polling the condition, not waiting for time to pass


async def test_a_chat_message_costs_at_most_four_queries(room, alice, bob):
    from prometheus_client import REGISTRY

    before = (
        REGISTRY.get_sample_value("taskflow_message_post_seconds_count", {"kind": "chat_message"})
        or 0.0
    )
    a = await open_room_socket(room, alice)
    b = await open_room_socket(room, bob)
    await frames_until(a, "user_join")
    # Warm-up message: first-use costs (content types, pool warm-up) are not per message.
    await send(b, {"type": "chat_message", "message": "warm", "client_id": "w"})
    await frames_until(b, "ack")
    await frames_until(a, "chat_message")
    await posts_finished(before + 1)

    with all_statements() as log:
        for n in range(3):
            log.clear()
            await send(b, {"type": "chat_message", "message": f"m{n}", "client_id": f"c{n}"})
            got = await frames_until(b, "ack")
            await posts_finished(before + n + 2)
            statements = log.take()
            queries = [
                q for q in statements if not q.lstrip().upper().startswith(TRANSACTION_CONTROL)
            ]
            assert len(queries) <= MAX_QUERIES_PER_CHAT_MESSAGE, statements
            assert any(f["type"] == "chat_message" and f["message"] == f"m{n}" for f in got) or (
                (await frames_until(b, "chat_message"))[-1]["message"] == f"m{n}"
            )
            assert (await frames_until(a, "chat_message"))[-1]["message"] == f"m{n}"

    assert await sync_to_async(ChatMessage.objects.count)() == 4
    await a.disconnect()
    await b.disconnect()


def test_a_post_holds_the_rooms_lock_only_for_its_writes(room, alice, bob):
    """Every post to a room waits for the one before it to commit (the lock that keeps ids in
    commit order). Reading the mentioned members, rendering Markdown and ending the author's
    typing need no lock: they come before the statement that takes it, and after it only the
    post's own writes remain (40 posts/s into one room used to queue behind that work)."""
    from django.db import transaction

    from messaging.services.posting import post_chat_message

    post_chat_message(room=room, author=bob, content="warm up", client_id="w")
    # The post's own transaction only (what runs once it commits holds no lock).
    with transaction.atomic(), all_statements() as log:
        post_chat_message(room=room, author=bob, content="hi @alice **there**", client_id="m")
        taken = log.take()
    statements = [
        q.lstrip().upper() for q in taken if not q.lstrip().upper().startswith(TRANSACTION_CONTROL)
    ]
    lock = next(i for i, q in enumerate(statements) if "LAST_SEQ" in q and q.startswith("UPDATE"))
    before, after = statements[:lock], statements[lock + 1 :]
    assert any(q.startswith("SELECT") and "USER" in q for q in before), before  # mentions
    assert any(q.startswith("DELETE") and "TYPING" in q for q in before), before
    assert after and all(q.startswith("INSERT") for q in after), after


async def test_a_message_after_typing_still_ends_the_typing(room, alice, bob):
    b = await open_room_socket(room, bob)
    await send(b, {"type": "typing"})
    await send(b, {"type": "chat_message", "message": "done typing", "client_id": "t1"})
    await frames_until(b, "ack")
    rows = await sync_to_async(UserTypingStatus.objects.filter(chat_room=room, user=bob).count)()
    assert rows == 0
    await b.disconnect()


async def test_a_removal_without_a_signal_is_caught_by_the_services_check(room, alice, bob):
    """The cached access answer never lets a post through: the service's check in the
    transaction refuses it, and the socket is closed as revoked."""
    a = await open_room_socket(room, alice)
    b = await open_room_socket(room, bob)
    await frames_until(a, "user_join")
    await sync_to_async(room.members.remove)(bob)  # no access-changed signal

    await send(b, {"type": "chat_message", "message": "still here?", "client_id": "x"})

    got = await frames_until(b, "error")
    assert got[-1]["code"] == "access_gone"
    assert (await b.receive_output(timeout=TIMEOUT))["code"] == ACCESS_GONE
    assert await sync_to_async(ChatMessage.objects.count)() == 0
    assert await a.receive_nothing(timeout=0.3)
    await a.disconnect()


async def test_a_removal_with_the_signal_closes_the_socket_at_once(room, alice, bob):
    b = await open_room_socket(room, bob)
    await sync_to_async(remove_room_member)(room=room, user=bob, removed_by=alice)
    got = await frames_until(b, "error")
    assert got[-1]["code"] == "access_gone"
    assert (await b.receive_output(timeout=TIMEOUT))["code"] == ACCESS_GONE


# --- pushback: a saturated process refuses posts out loud -------------------------------


async def test_a_saturated_process_answers_slow_down_and_saves_nothing(room, alice, bob, settings):
    b = await open_room_socket(room, bob)
    settings.REALTIME_MAX_PENDING_POSTS = 0  # every post finds the process "full"

    await send(b, {"type": "chat_message", "message": "too much", "client_id": "busy-1"})

    error = (await frames_until(b, "error"))[-1]
    assert (error["code"], error["client_id"], error["retry_after"]) == ("slow_down", "busy-1", 1)
    assert await sync_to_async(ChatMessage.objects.count)() == 0
    # Typing is not a post: it is never refused for pushback.
    await send(b, {"type": "typing"})
    assert await b.receive_nothing(timeout=0.3)

    settings.REALTIME_MAX_PENDING_POSTS = 32  # the retry the page makes goes through
    await send(b, {"type": "chat_message", "message": "too much", "client_id": "busy-1"})
    assert (await frames_until(b, "ack"))[-1]["client_id"] == "busy-1"
    assert await sync_to_async(ChatMessage.objects.count)() == 1
    await b.disconnect()


def test_http_post_to_a_saturated_process_is_429_with_retry_after(room, bob, settings):
    from django.urls import reverse

    client = Client()
    client.force_login(bob)
    settings.REALTIME_MAX_PENDING_POSTS = 0
    response = client.post(
        reverse("messaging:room_send", args=[room.pk]),
        {"content": "busy", "client_id": "h1"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 429
    assert response["Retry-After"] == "1"
    assert response.json()["code"] == "slow_down"
    assert ChatMessage.objects.count() == 0


# --- recovery: what a Redis restart costs a socket --------------------------------------


async def test_a_handshake_waits_for_the_layer_instead_of_being_refused(room, bob, monkeypatch):
    """Redis down (or its pooled connections stale after a restart): the socket's handshake
    waits and retries, and is let in once the layer answers."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    real_group_add = layer.group_add
    failures = [ConnectionError("redis down")] * 3

    async def flaky_group_add(group, channel):
        if failures:
            raise failures.pop()
        await real_group_add(group, channel)

    monkeypatch.setattr(layer, "group_add", flaky_group_add)
    b = await open_room_socket(room, bob)  # asserts it was accepted
    assert not failures
    await send(b, {"type": "chat_message", "message": "back", "client_id": "r1"})
    assert (await frames_until(b, "ack"))[-1]["client_id"] == "r1"
    await b.disconnect()


async def test_a_socket_let_in_after_an_outage_stays_open_and_hears_the_room(
    room, bob, monkeypatch
):
    """channels starts a socket's layer receive before its handshake: during an outage that
    receive fails while the handshake waits for the layer. Once Redis is back and the socket
    is let in, it stays open and live events reach it (it had been closed at once for a
    resync, and the client reconnected a second time, fault scenario a)."""
    import asyncio

    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    real_group_add, real_receive = layer.group_add, layer.receive
    redis_down = True
    receive_failed = asyncio.Event()

    async def group_add(group, channel):
        if redis_down:
            raise ConnectionError("redis down")
        await real_group_add(group, channel)

    async def receive(channel):
        if redis_down:
            receive_failed.set()
            raise ConnectionError("redis down")
        return await real_receive(channel)

    monkeypatch.setattr(layer, "group_add", group_add)
    monkeypatch.setattr(layer, "receive", receive)
    opening = asyncio.ensure_future(open_room_socket(room, bob))
    await asyncio.wait_for(receive_failed.wait(), TIMEOUT)
    redis_down = False
    b = await opening
    await send(b, {"type": "chat_message", "message": "back", "client_id": "r2"})
    assert (await frames_until(b, "chat_message"))[-1]["message"] == "back"
    await b.disconnect()


async def test_a_socket_hears_the_room_while_its_own_post_is_being_saved(
    room, alice, bob, monkeypatch
):
    """channels hands a consumer one message at a time: a post waiting on the database (a
    busy room's posts queue for its lock) held back every group event for that socket, and a
    client that kept posting fell ever further behind the room (fault scenario a). Client
    frames now wait in the socket's own queue: bob hears the room while his post is still
    being saved, and still gets his ack after."""
    import asyncio
    import threading

    from channels.layers import get_channel_layer

    from messaging import realtime
    from messaging.consumers import chat

    saving, may_save = threading.Event(), threading.Event()
    real_post = chat.post_chat_message

    def slow_post(**fields):
        saving.set()
        assert may_save.wait(TIMEOUT), "the test never let the post through"
        return real_post(**fields)

    monkeypatch.setattr(chat, "post_chat_message", slow_post)
    b = await open_room_socket(room, bob)
    try:
        await send(b, {"type": "chat_message", "message": "slow one", "client_id": "s1"})
        assert await asyncio.to_thread(saving.wait, TIMEOUT), "the post never started"
        # What the room says meanwhile (alice's typing, as its service sends it; with SQLite
        # a real second post would queue behind bob's on the one database thread).
        typing = {"type": "user_typing", "username": "alice", "user_id": alice.pk}
        await get_channel_layer().group_send(
            realtime.room_group(room.pk), realtime.forward_event(typing)
        )
        heard = await frames_until(b, "user_typing")
        assert "ack" not in [f["type"] for f in heard]  # the post is still waiting
    finally:
        may_save.set()
    assert (await frames_until(b, "ack"))[-1]["client_id"] == "s1"
    await b.disconnect()


async def test_a_post_sent_just_before_the_socket_closes_is_still_saved(room, bob):
    b = await open_room_socket(room, bob)
    await send(b, {"type": "chat_message", "message": "last words", "client_id": "z1"})
    await b.disconnect()
    assert (
        await sync_to_async(ChatMessage.objects.filter(content="last words", author=bob).count)()
        == 1
    )


async def test_a_handshake_is_refused_when_the_layer_stays_down(room, bob, monkeypatch, settings):
    from channels.layers import get_channel_layer

    settings.CHANNEL_SUBSCRIBE_WAIT_SECONDS = 0.6

    async def down(group, channel):
        raise ConnectionError("redis down")

    monkeypatch.setattr(get_channel_layer(), "group_add", down)
    from kanban_board.asgi import application

    cookie = await sync_to_async(session_cookie)(bob)
    communicator = WebsocketCommunicator(
        application,
        f"/ws/chat-room/{room.pk}/",
        headers=[
            (b"host", b"127.0.0.1:8000"),
            (b"origin", b"http://127.0.0.1:8000"),
            (b"cookie", cookie),
        ],
    )
    ok, _ = await communicator.connect(timeout=TIMEOUT)
    assert not ok


async def test_a_failed_layer_call_closes_only_sockets_subscribed_before_it_began():
    import time

    from messaging import layers

    subscribed = layers.layer_epoch()
    layers.note_layer_failure(started=subscribed - 5)  # began during the outage, before
    assert not await layers.wait_for_layer_failure(since=subscribed, timeout=0.05)
    layers.note_layer_failure(started=time.monotonic())  # began after: may have missed it
    assert await layers.wait_for_layer_failure(since=subscribed, timeout=0.05)


async def test_a_process_behind_its_posts_answers_slow_down(room, bob, settings):
    """The backlog of an overloaded process sits in the sockets' frame queues, where no
    counter sees it: a post that took longer than REALTIME_SLOW_POST_SECONDS makes the next
    ones answer slow_down for a moment."""
    from messaging import pushback

    b = await open_room_socket(room, bob)
    settings.REALTIME_SLOW_POST_SECONDS = 0.0  # any post is "slow"
    await send(b, {"type": "chat_message", "message": "first", "client_id": "s1"})
    assert (await frames_until(b, "ack"))[-1]["client_id"] == "s1"
    pushback.gate.pending += 1  # another socket's post is still waiting: a backlog
    try:
        await send(b, {"type": "chat_message", "message": "second", "client_id": "s2"})
        error = (await frames_until(b, "error"))[-1]
    finally:
        pushback.gate.pending -= 1
    assert (error["code"], error["client_id"]) == ("slow_down", "s2")
    assert await sync_to_async(ChatMessage.objects.count)() == 1
    # With nothing else pending, one slow post is no backlog: the next post goes through.
    await send(b, {"type": "chat_message", "message": "third", "client_id": "s3"})
    assert (await frames_until(b, "ack"))[-1]["client_id"] == "s3"
    settings.REALTIME_SLOW_POST_SECONDS = 1.0
    await b.disconnect()

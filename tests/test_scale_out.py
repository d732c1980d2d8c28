"""Scale-out: two daphne processes on one Redis and one PostgreSQL database behave as one server.

Each test starts two real daphne processes (`--websocket_timeout` as in `make run-scaled`) on
a Redis database claimed for the test (so its channel layer, cache and Celery queue are its
own) and the pytest PostgreSQL test database (transactional_db: the data is committed). A
client connected to process 1 and one connected to process 2 must see the same room: every
chat message from either side, typing indicators (with ONE throttle window shared through the
Redis cache), presence, task comments posted over HTTP on the other process, mention
notifications created by a real Celery worker process, one rate-limit count per user, and
unread counts per room (issue 11): `room_unread` and `read_receipt` from either process.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.db import connection, transaction
from websockets.sync.client import ClientConnection

from messaging.models import (
    ChatMessage,
    ChatRoom,
    Notification,
    TaskThreadComment,
    UserTypingStatus,
)
from tests.clients import LiveSession, Workspace, open_socket, wait_closed
from tests.cluster import Cluster
from tests.live import CeleryWorker, wait_for, worker_env

pytestmark = pytest.mark.services

# Frames that may arrive between the ones a test waits for.
INCIDENTAL = frozenset(
    {
        "ack",
        "user_join",
        "user_leave",
        "user_typing",
        "user_stop_typing",
        "unread_count",
        "room_unread",  # issue 11: a notifications socket hears each message's room count
    }
)


# --- harness ----------------------------------------------------------------------------


@pytest.fixture
def cluster(start_cluster) -> Cluster:
    return start_cluster()


@pytest.fixture
def worker(cluster) -> Iterator[CeleryWorker]:
    """`celery worker --pool=solo` on the cluster's Redis database and the test database."""
    process = CeleryWorker(
        worker_env(broker_url=cluster.redis_url, database_url=cluster.database_url)
    )
    process.start()
    yield process
    process.stop()


def chat_socket(session: LiveSession, room_id: int) -> ClientConnection:
    return session.socket(f"/ws/chat-room/{room_id}/")


def send(ws: ClientConnection, **frame: Any) -> None:
    ws.send(json.dumps(frame))


def next_frame(
    ws: ClientConnection, type_: str, *, timeout: float = 10.0, skip: frozenset[str] = INCIDENTAL
) -> dict[str, Any]:
    """The next frame of `type_`, skipping those in `skip`; any other frame is a failure."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {type_!r} frame within {timeout}s")
        try:
            frame = json.loads(ws.recv(timeout=remaining))
        except TimeoutError:
            raise AssertionError(f"no {type_!r} frame within {timeout}s") from None
        if frame.get("type") == type_:
            return frame
        assert frame.get("type") in skip, f"unexpected frame while waiting for {type_}: {frame}"


def frames_within(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    """Every frame that arrives in the next `seconds`."""
    frames = []
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            frames.append(json.loads(ws.recv(timeout=remaining)))
        except TimeoutError:
            break
    return frames


def chat_messages(ws: ClientConnection, count: int, *, timeout: float) -> list[dict[str, Any]]:
    """The next `count` chat_message frames, in arrival order."""
    deadline = time.monotonic() + timeout
    return [
        next_frame(ws, "chat_message", timeout=max(0.01, deadline - time.monotonic()))
        for _ in range(count)
    ]


JSON = {"Accept": "application/json"}  # the page's outbox asks for JSON (else a redirect)


# --- tests ------------------------------------------------------------------------------


def test_chat_messages_from_both_processes_reach_both_clients_in_order(cluster, alice, bob):
    workspace = Workspace.create(alice, members=[bob])
    alice_p1 = chat_socket(LiveSession(cluster.p1).log_in("alice"), workspace.room.pk)
    bob_p2 = chat_socket(LiveSession(cluster.p2).log_in("bob"), workspace.room.pk)
    next_frame(alice_p1, "user_join")  # bob is in: both sockets are subscribed

    # Turn by turn: each message reaches both clients before the next is sent, so both see
    # exactly the order it was sent in.
    turns = []
    for i in range(6):
        sender, name = (alice_p1, "alice") if i % 2 == 0 else (bob_p2, "bob")
        text = f"turn {i} from {name}"
        send(sender, type="chat_message", message=text, client_id=f"turn-{i}")
        turns.append(text)
        for ws in (alice_p1, bob_p2):
            frame = next_frame(ws, "chat_message")
            assert (frame["message"], frame["username"]) == (text, name)

    # Both at once: every message reaches both clients exactly once, and each sender's
    # messages arrive in the order they were sent (and saved). 3 turns + 15 per user stays
    # under the default per-user CHAT_RATE_LIMIT (20 per 10 s).
    burst = 15
    for i in range(burst):
        send(alice_p1, type="chat_message", message=f"burst alice {i}", client_id=f"a-{i}")
        send(bob_p2, type="chat_message", message=f"burst bob {i}", client_id=f"b-{i}")
    expected = {name: [f"burst {name} {i}" for i in range(burst)] for name in ("alice", "bob")}
    received = {
        "alice@p1": chat_messages(alice_p1, 2 * burst, timeout=60),
        "bob@p2": chat_messages(bob_p2, 2 * burst, timeout=60),
    }
    saved = {
        m.pk: m.content
        for m in ChatMessage.objects.filter(chat_room=workspace.room, content__startswith="burst")
    }
    assert len(saved) == 2 * burst
    for client, frames in received.items():
        assert {f["message_id"]: f["message"] for f in frames} == saved, client
        for name, texts in expected.items():
            theirs = [f for f in frames if f["username"] == name]
            assert [f["message"] for f in theirs] == texts, (client, name)
            ids = [f["message_id"] for f in theirs]
            assert ids == sorted(ids), (client, name)
    for ws in (alice_p1, bob_p2):
        extra = [f for f in frames_within(ws, 0.5) if f["type"] == "chat_message"]
        assert extra == [], "a message arrived twice"
        ws.close()
    assert ChatMessage.objects.filter(chat_room=workspace.room).count() == len(turns) + 2 * burst


def test_typing_crosses_processes_and_one_throttle_window_covers_both(
    start_cluster,
    alice,
    bob,
    broker_url,
):
    """alice types in two tabs, one per process; bob (process 2) is told once per throttle
    window, because the window is a key in the shared Redis cache, not process memory. Her
    login on process 1 also opens her socket on process 2: sessions live in the database.
    The window is a minute long here, so a slow machine cannot outlast it mid-test."""
    cluster = start_cluster(TYPING_THROTTLE_SECONDS="60")
    workspace = Workspace.create(alice, members=[bob])
    room = workspace.room
    alice_http = LiveSession(cluster.p1).log_in("alice")
    alice_p1 = chat_socket(alice_http, room.pk)
    alice_p2 = open_socket(
        cluster.p2, f"/ws/chat-room/{room.pk}/", cookie=alice_http.cookie_header()
    )
    bob_p2 = chat_socket(LiveSession(cluster.p2).log_in("bob"), room.pk)
    next_frame(alice_p1, "user_join")
    cache = redis.Redis.from_url(broker_url)
    throttle_pattern = f"*messaging:typing:{room.pk}:{alice.pk}"

    send(alice_p1, type="typing")
    typing = next_frame(bob_p2, "user_typing")
    assert (typing["username"], typing["user_id"]) == ("alice", alice.pk)
    assert typing["expires_in"] > 0
    assert list(cache.scan_iter(throttle_pattern)), "the throttle window is not in Redis"

    # The same user typing through process 2 inside the window: stored, not re-announced.
    status = UserTypingStatus.objects.get(chat_room=room, user=alice)
    send(alice_p2, type="typing")
    wait_for(
        lambda: UserTypingStatus.objects.get(pk=status.pk).last_update > status.last_update,
        timeout=5,
        what="process 2 to record the second typing event",
    )
    assert [f for f in frames_within(bob_p2, 0.5) if f["type"] == "user_typing"] == []

    # stop_typing through process 2 reaches bob and clears the shared window, so typing
    # again through process 1 is announced at once.
    send(alice_p2, type="stop_typing")
    stop = next_frame(bob_p2, "user_stop_typing")
    assert stop["username"] == "alice"
    assert not list(cache.scan_iter(throttle_pattern))
    send(alice_p1, type="typing")
    assert next_frame(bob_p2, "user_typing")["username"] == "alice"
    # alice's own sockets are never told about her typing.
    for ws in (alice_p1, alice_p2):
        assert not [f for f in frames_within(ws, 0.3) if f["type"].endswith("typing")]
        ws.close()
    bob_p2.close()


def test_presence_crosses_processes(cluster, alice, bob):
    workspace = Workspace.create(alice, members=[bob])
    alice_p1 = chat_socket(LiveSession(cluster.p1).log_in("alice"), workspace.room.pk)
    bob_p2 = chat_socket(LiveSession(cluster.p2).log_in("bob"), workspace.room.pk)

    joined = next_frame(alice_p1, "user_join")
    assert (joined["username"], joined["user_id"]) == ("bob", bob.pk)
    bob_p2.close()
    left = next_frame(alice_p1, "user_leave")
    assert (left["username"], left["user_id"]) == ("bob", bob.pk)
    alice_p1.close()


@pytest.mark.worker
def test_mention_notification_from_the_worker_reaches_the_other_process(
    cluster, worker, alice, bob
):
    """alice mentions bob over a socket on process 1; the Celery worker process creates the
    notification and pushes it through Redis to bob's notification socket on process 2."""
    workspace = Workspace.create(alice, members=[bob])
    bob_p2 = LiveSession(cluster.p2).log_in("bob").socket("/ws/notifications/")
    assert next_frame(bob_p2, "unread_count")["count"] == 0
    alice_p1 = chat_socket(LiveSession(cluster.p1).log_in("alice"), workspace.room.pk)

    send(alice_p1, type="chat_message", message="@bob the deploy is green", client_id="m-1")
    ack = next_frame(alice_p1, "ack")
    notification = next_frame(bob_p2, "notification", timeout=30)

    assert notification["notification_type"] == Notification.Type.MENTION
    assert notification["sender"] == "alice"
    assert notification["unread_count"] == 1
    saved = Notification.objects.get(pk=notification["notification_id"])
    assert (saved.recipient, saved.chat_message_id) == (bob, ack["message_id"])
    # Created by the worker process (not eagerly inside daphne).
    worker.wait_for_log(r"notify_mentions\[[-0-9a-f]+\] succeeded .*: 1", timeout=10)
    for ws in (alice_p1, bob_p2):
        ws.close()


def test_comment_posted_over_http_on_process_2_reaches_a_socket_on_process_1(cluster, alice, bob):
    workspace = Workspace.create(alice, members=[bob])
    task = workspace.task
    alice_p1 = LiveSession(cluster.p1).log_in("alice").socket(f"/ws/task-comments/{task.pk}/")
    bob_http = LiveSession(cluster.p2).log_in("bob")

    status, _, body = bob_http.request(
        f"/messaging/task/{task.pk}/comments/",
        {"content": "Shipped from the other process", "client_id": "c-1"},
        headers={"Accept": "application/json"},
    )
    assert status == 201, body
    comment_id = json.loads(body)["comment_id"]

    frame = next_frame(alice_p1, "new_comment")
    assert frame["comment_id"] == comment_id
    assert (frame["username"], frame["comment"]) == ("bob", "Shipped from the other process")
    assert TaskThreadComment.objects.get(pk=comment_id).task_id == task.pk
    alice_p1.close()


def test_one_rate_limit_counts_a_users_messages_on_both_processes(start_cluster, alice, bob):
    """With a limit of 6 chat messages per 30 s, alice's sockets on process 1 and process 2
    and an HTTP post share one count in Redis: 4 + 2 pass, then both processes refuse. (A count
    per process would have let all 8 socket messages through.)"""
    cluster = start_cluster(CHAT_RATE_LIMIT="6/30s")
    workspace = Workspace.create(alice, members=[bob])
    room = workspace.room
    alice_http = LiveSession(cluster.p1).log_in("alice")
    alice_p1 = chat_socket(alice_http, room.pk)
    alice_p2 = open_socket(
        cluster.p2, f"/ws/chat-room/{room.pk}/", cookie=alice_http.cookie_header()
    )

    # Her own messages come back to both sockets as chat_message frames: skip those too.
    skip = INCIDENTAL | {"chat_message"}
    for i in range(4):
        send(alice_p1, type="chat_message", message=f"p1 {i}", client_id=f"p1-{i}")
        assert next_frame(alice_p1, "ack", skip=skip)["client_id"] == f"p1-{i}"
    for i in range(2):
        send(alice_p2, type="chat_message", message=f"p2 {i}", client_id=f"p2-{i}")
        assert next_frame(alice_p2, "ack", skip=skip)["client_id"] == f"p2-{i}"

    send(alice_p2, type="chat_message", message="p2 over", client_id="p2-over")
    refused = next_frame(alice_p2, "error", skip=skip)
    assert (refused["code"], refused["client_id"]) == ("rate_limited", "p2-over")
    assert refused["retry_after"] >= 1
    status, headers, _ = (
        LiveSession(cluster.p2)
        .log_in("alice")
        .request(
            f"/messaging/room/{room.pk}/send/",
            {"content": "http over", "client_id": "http-over"},
            headers={"Accept": "application/json"},
        )
    )
    assert status == 429
    assert int(headers["Retry-After"]) >= 1
    send(alice_p1, type="chat_message", message="p1 over", client_id="p1-over")
    assert next_frame(alice_p1, "error", skip=skip)["code"] == "rate_limited"

    saved = ChatMessage.objects.filter(chat_room=room).values_list("content", flat=True)
    assert sorted(saved) == ["p1 0", "p1 1", "p1 2", "p1 3", "p2 0", "p2 1"]
    for ws in (alice_p1, alice_p2):
        ws.close()


# --- presence (issue 11) ----------------------------------------------------------------


def heartbeat(ws: ClientConnection, *, visible: bool = True, idle: bool = False) -> None:
    send(ws, type="heartbeat", visible=visible, idle=idle)


def presence_of(ws: ClientConnection, username: str, *, timeout: float = 15.0) -> str:
    """The status in the next presence frame about `username` (others' frames skipped)."""
    skip = INCIDENTAL | {"presence"}
    deadline = time.monotonic() + timeout
    while True:
        frame = next_frame(ws, "presence", timeout=max(0.01, deadline - time.monotonic()),
                           skip=skip)  # fmt: skip
        if frame["username"] == username:
            return frame["status"]


def test_presence_status_crosses_processes(start_cluster, alice, bob):
    """bob's page on process 2 reports; alice's page on process 1 sees him online, away when
    his page is hidden, offline when he closes it."""
    cluster = start_cluster(PRESENCE_FRAME_INTERVAL_SECONDS="1")
    workspace = Workspace.create(alice, members=[bob])
    alice_p1 = LiveSession(cluster.p1).log_in("alice").socket(f"/ws/board/{workspace.board.pk}/")
    heartbeat(alice_p1)
    assert presence_of(alice_p1, "alice") == "online"
    bob_p2 = chat_socket(LiveSession(cluster.p2).log_in("bob"), workspace.room.pk)

    heartbeat(bob_p2)
    assert presence_of(alice_p1, "bob") == "online"
    heartbeat(bob_p2, visible=False)
    assert presence_of(alice_p1, "bob") == "away"
    bob_p2.close()
    assert presence_of(alice_p1, "bob") == "offline"
    alice_p1.close()


def test_a_killed_process_users_go_offline_within_the_bound(start_cluster, alice, bob):
    """Process 2 is SIGKILLed with bob's socket open: nothing on it says goodbye. His
    connection expires (PRESENCE_CONNECTION_TTL_SECONDS, shrunk here) and process 1's sweep
    announces him offline. The bound: TTL + one sweep + one frame interval, plus slack for a
    busy machine (the default settings make it 60 + 10 + 5 = 75 s, under the 90 s of issue 11)."""
    ttl, sweep, interval = 4, 1, 1
    cluster = start_cluster(
        PRESENCE_CONNECTION_TTL_SECONDS=str(ttl),
        PRESENCE_SWEEP_SECONDS=str(sweep),
        PRESENCE_FRAME_INTERVAL_SECONDS=str(interval),
    )
    workspace = Workspace.create(alice, members=[bob])
    alice_p1 = chat_socket(LiveSession(cluster.p1).log_in("alice"), workspace.room.pk)
    heartbeat(alice_p1)
    bob_p2 = chat_socket(LiveSession(cluster.p2).log_in("bob"), workspace.room.pk)
    heartbeat(bob_p2)
    assert presence_of(alice_p1, "bob") == "online"

    os.killpg(cluster.p2.proc.pid, signal.SIGKILL)
    cluster.p2.proc.wait(timeout=10)

    assert presence_of(alice_p1, "bob", timeout=ttl + sweep + interval + 10) == "offline"
    alice_p1.close()


def test_room_unread_counts_cross_processes(cluster, alice, bob):
    """alice posts on process 1: bob's notification socket on process 2 hears the room's new
    count. bob reads the room over HTTP on process 2: his other tab, a notification socket on
    process 1, hears the count clear, and alice's room socket on process 1 the read receipt."""
    workspace = Workspace.create(alice, members=[bob])
    room = workspace.room
    bob_http = LiveSession(cluster.p2).log_in("bob")
    bob_tab_p2 = bob_http.socket("/ws/notifications/")
    bob_tab_p1 = LiveSession(cluster.p1).log_in("bob").socket("/ws/notifications/")
    for ws in (bob_tab_p1, bob_tab_p2):
        next_frame(ws, "unread_count")  # subscribed
    alice_p1 = chat_socket(LiveSession(cluster.p1).log_in("alice"), room.pk)

    send(alice_p1, type="chat_message", message="@bob ready for review", client_id="u-1")
    message_id = next_frame(alice_p1, "ack")["message_id"]
    for ws in (bob_tab_p2, bob_tab_p1):
        frame = next_frame(ws, "room_unread")
        assert (frame["room_id"], frame["unread"], frame["mentions"]) == (room.pk, 1, 1)
        assert frame["last_message_id"] == message_id

    status, _, body = bob_http.request(
        f"/messaging/room/{room.pk}/read/",
        {"message_id": message_id},
        headers={"Accept": "application/json"},
    )
    assert (status, json.loads(body)["unread"]) == (200, 0)

    for ws in (bob_tab_p1, bob_tab_p2):
        frame = next_frame(ws, "room_unread")
        assert (frame["room_id"], frame["unread"], frame["last_read_message_id"]) == (
            room.pk,
            0,
            message_id,
        )
    receipt = next_frame(alice_p1, "read_receipt", skip=INCIDENTAL | {"chat_message"})
    assert (receipt["user_id"], receipt["message_id"]) == (bob.pk, message_id)
    for ws in (alice_p1, bob_tab_p1, bob_tab_p2):
        ws.close()


def test_a_stopped_process_exits_at_once_though_a_request_waits_on_the_database(
    cluster, alice, bob
):
    """A rolling restart (docker stop, `make run-scaled` being stopped) SIGTERMs one process.
    Here process 2 is stopped while alice's HTTP post on it waits for the room's row lock
    (held by this test) and her socket is open. It used to finish stopping and then wait for
    that request's thread at interpreter exit, until the supervisor's SIGKILL; now it exits
    while the lock is still held. Nothing half-done remains: the post is not saved, her client
    sees the connection drop, and the retry with the same client_id through process 1 is
    saved once and reaches bob there."""
    workspace = Workspace.create(alice, members=[bob])
    room = workspace.room
    bob_p1 = chat_socket(LiveSession(cluster.p1).log_in("bob"), room.pk)
    alice_p2 = LiveSession(cluster.p2).log_in("alice")
    alice_socket = chat_socket(alice_p2, room.pk)
    send_path = f"/messaging/room/{room.pk}/send/"
    fields = {"content": "sent during the restart", "client_id": "restart-1"}
    outcome: dict[str, Any] = {}

    def post() -> None:
        try:
            outcome["status"] = alice_p2.request(send_path, fields, headers=JSON)[0]
        except OSError as error:  # the connection dropped: no answer
            outcome["error"] = type(error).__name__

    def a_query_waits_for_a_lock() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            return cursor.fetchone()[0] > 0

    poster = threading.Thread(target=post)
    with transaction.atomic():
        ChatRoom.objects.select_for_update().get(pk=room.pk)
        poster.start()
        wait_for(a_query_waits_for_a_lock, timeout=15, what="the post to wait for the room lock")
        os.killpg(cluster.p2.proc.pid, signal.SIGTERM)
        wait_for(
            lambda: cluster.p2.proc.poll() is not None,
            timeout=15,
            what="process 2 to exit while the request still waits on the database",
        )
    poster.join(timeout=15)
    assert "status" not in outcome, outcome
    assert outcome.get("error")
    wait_closed(alice_socket)
    assert not ChatMessage.objects.filter(chat_room=room, client_id="restart-1").exists()

    retry = LiveSession(cluster.p1).log_in("alice").request(send_path, fields, headers=JSON)
    assert retry[0] == 201, retry
    assert next_frame(bob_p1, "chat_message")["message"] == "sent during the restart"
    assert ChatMessage.objects.filter(chat_room=room, client_id="restart-1").count() == 1
    bob_p1.close()

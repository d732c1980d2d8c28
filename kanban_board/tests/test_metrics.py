"""GET /metrics: only the scraper may read it, and the numbers move when people use the app.

Sockets go through the whole ASGI application (session cookie, Origin check, the metrics
wrapper), as a browser's would; HTTP goes through the test client (the middleware); tasks run
eagerly, as in the embedded mode. Each test compares a counter before and after, since the
registry lives as long as the process.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core import mail
from django.db import connections
from django.test import Client
from django.urls import reverse
from prometheus_client import REGISTRY

from messaging import layers
from messaging.models import Notification
from messaging.services.posting import post_chat_message
from tests.factories import BoardFactory, ChatRoomFactory

TOKEN = "scrape-me-" + "x" * 20
TIMEOUT = 5


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def metrics_token(settings) -> str:
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []
    return TOKEN


def scrape(token: str = TOKEN, **extra) -> tuple[int, str]:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}", **extra)
    return response.status_code, response.content.decode()


def scraped_value(text: str, line_start: str) -> float:
    """The value of the exposition line that starts with `line_start` (name{labels})."""
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# --- access -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_need_the_token(metrics_token):
    assert Client().get("/metrics").status_code == 404
    assert scrape("wrong-token")[0] == 404
    assert Client().get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 404  # no "Bearer"

    status, text = scrape()
    assert status == 200
    assert "# TYPE taskflow_websocket_open gauge" in text
    assert "# TYPE taskflow_http_requests_total counter" in text


@pytest.mark.django_db
def test_a_logged_in_user_without_the_token_is_refused(metrics_token, alice_client):
    assert alice_client.get("/metrics").status_code == 404


@pytest.mark.django_db
def test_without_a_token_configured_nobody_reads_metrics(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []
    assert scrape("")[0] == 404
    assert Client().get("/metrics").status_code == 404


@pytest.mark.django_db
def test_an_allow_listed_address_needs_no_token(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.0.0.7"]
    assert Client(REMOTE_ADDR="10.0.0.7").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.0.0.8").get("/metrics").status_code == 404


# --- HTTP -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_http_requests_are_counted_by_view_and_status(alice_client, metrics_token):
    ok = {"view": "kanban:board_list", "method": "GET", "status": "200"}
    missing = {"view": "kanban:board_detail", "method": "GET", "status": "404"}
    before_ok = sample("taskflow_http_requests_total", **ok)
    before_missing = sample("taskflow_http_requests_total", **missing)

    assert alice_client.get(reverse("kanban:board_list")).status_code == 200
    assert alice_client.get(reverse("kanban:board_detail", args=[987654])).status_code == 404

    assert sample("taskflow_http_requests_total", **ok) == before_ok + 1
    assert sample("taskflow_http_requests_total", **missing) == before_missing + 1
    text = scrape()[1]
    line = 'taskflow_http_requests_total{method="GET",status="200",view="kanban:board_list"}'
    assert scraped_value(text, line) == before_ok + 1


# --- sockets and messages ---------------------------------------------------------------


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def browser_socket(user, path: str) -> WebsocketCommunicator:
    from kanban_board.asgi import application

    cookie = await sync_to_async(session_cookie)(user)
    communicator = WebsocketCommunicator(
        application,
        path,
        headers=[
            (b"host", b"127.0.0.1:8000"),
            (b"origin", b"http://127.0.0.1:8000"),
            (b"cookie", cookie),
        ],
    )
    connected, code = await communicator.connect(timeout=TIMEOUT)
    assert connected, code
    return communicator


async def next_of_type(communicator: WebsocketCommunicator, kind: str) -> dict:
    while True:
        frame = json.loads(await communicator.receive_from(timeout=TIMEOUT))
        if frame["type"] == kind:
            return frame


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_socket_counts_move_when_sockets_open_and_messages_flow(alice, bob, metrics_token):
    room = await sync_to_async(
        lambda: ChatRoomFactory(board=BoardFactory(created_by=alice, members=[bob]), members=[bob])
    )()
    path = f"/ws/chat-room/{room.pk}/"
    chat = {"consumer": "chat-room"}
    open_before = sample("taskflow_websocket_open", **chat)
    in_before = sample("taskflow_websocket_frames_in_total", **chat, type="chat_message")
    ack_before = sample("taskflow_websocket_frames_out_total", **chat, type="ack")
    out_before = sample("taskflow_websocket_frames_out_total", **chat, type="chat_message")
    errors_before = sample("taskflow_websocket_error_frames_total", **chat, code="none")
    posts_before = sample("taskflow_message_post_seconds_count", kind="chat_message")
    sent_before = sample("taskflow_broadcast_on_commit_seconds_count", outcome="sent")
    client_closes_before = sample(
        "taskflow_websocket_closes_total", **chat, code="1000", by="client"
    )

    alice_ws = await browser_socket(alice, path)
    bob_ws = await browser_socket(bob, path)
    assert sample("taskflow_websocket_open", **chat) == open_before + 2
    _, text = await sync_to_async(scrape)()
    assert scraped_value(text, 'taskflow_websocket_open{consumer="chat-room"}') == open_before + 2

    await alice_ws.send_to(
        text_data=json.dumps({"type": "chat_message", "message": "hi", "client_id": "m-1"})
    )
    ack = await next_of_type(alice_ws, "ack")
    delivered = await next_of_type(bob_ws, "chat_message")
    assert delivered["message_id"] == ack["message_id"]
    await next_of_type(alice_ws, "chat_message")  # the room broadcast reaches the sender too

    assert sample("taskflow_websocket_frames_in_total", **chat, type="chat_message") == (
        in_before + 1
    )
    assert sample("taskflow_websocket_frames_out_total", **chat, type="ack") == ack_before + 1
    assert sample("taskflow_websocket_frames_out_total", **chat, type="chat_message") == (
        out_before + 2
    )
    # The post's ack can come from its broadcast, before the post has returned: wait for it.
    async with asyncio.timeout(TIMEOUT):
        while sample("taskflow_message_post_seconds_count", kind="chat_message") < posts_before + 1:
            await asyncio.sleep(0.01)  # polling the condition, not waiting for time to pass
    assert sample("taskflow_message_post_seconds_count", kind="chat_message") == posts_before + 1
    assert sample("taskflow_broadcast_on_commit_seconds_count", outcome="sent") >= sent_before + 1

    await bob_ws.send_to(text_data="not json")
    assert (await next_of_type(bob_ws, "error"))["message"]
    assert sample("taskflow_websocket_error_frames_total", **chat, code="none") == (
        errors_before + 1
    )

    await alice_ws.disconnect(code=1000)
    await bob_ws.disconnect(code=1000)
    assert sample("taskflow_websocket_open", **chat) == open_before
    assert sample("taskflow_websocket_closes_total", **chat, code="1000", by="client") == (
        client_closes_before + 2
    )
    await sync_to_async(connections.close_all)()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_layer_failure_is_counted_and_its_sockets_resync(alice, settings):
    settings.CHANNEL_RESUBSCRIBE_SECONDS = 60  # only the failure may close the socket
    failures_before = sample("taskflow_channel_layer_failures_total")
    resyncs_before = sample("taskflow_websocket_resyncs_total", consumer="notifications")

    ws = await browser_socket(alice, "/ws/notifications/")
    layers.note_layer_failure()
    closed = await ws.receive_output(timeout=TIMEOUT)

    assert closed == {"type": "websocket.close", "code": 1000}
    assert sample("taskflow_channel_layer_failures_total") == failures_before + 1
    assert sample("taskflow_websocket_resyncs_total", consumer="notifications") == (
        resyncs_before + 1
    )
    await ws.disconnect()
    await sync_to_async(connections.close_all)()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_refused_handshake_is_counted(alice, bob):
    room = await sync_to_async(
        lambda: ChatRoomFactory(board=BoardFactory(created_by=alice))
    )()  # bob is not a member
    before = sample("taskflow_websocket_refused_total", consumer="chat-room")
    from kanban_board.asgi import application

    cookie = await sync_to_async(session_cookie)(bob)
    communicator = WebsocketCommunicator(
        application,
        f"/ws/chat-room/{room.pk}/",
        headers=[(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000"),
                 (b"cookie", cookie)],
    )  # fmt: skip
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert not connected
    assert sample("taskflow_websocket_refused_total", consumer="chat-room") == before + 1
    await sync_to_async(connections.close_all)()


# --- tasks, notifications, e-mail -------------------------------------------------------


@pytest.mark.django_db
def test_mention_lag_and_task_runtime_are_recorded(alice, bob, django_capture_on_commit_callbacks):
    room = ChatRoomFactory(board=BoardFactory(created_by=alice, members=[bob]), members=[bob])
    lag_before = sample("taskflow_mention_notification_lag_seconds_count")
    task = "messaging.tasks.notify_mentions"
    runs_before = sample("taskflow_celery_task_seconds_count", task=task)

    with django_capture_on_commit_callbacks(execute=True):
        message = post_chat_message(room=room, author=alice, content="@bob look")

    assert Notification.objects.filter(chat_message=message, recipient=bob).count() == 1
    assert sample("taskflow_mention_notification_lag_seconds_count") == lag_before + 1
    assert sample("taskflow_celery_task_seconds_count", task=task) == runs_before + 1


@pytest.mark.django_db
def test_a_failing_task_is_counted(alice, bob, monkeypatch):
    from messaging import tasks

    def broken(**_):
        raise RuntimeError("database went away")

    monkeypatch.setattr(tasks.notifications, "create_mention_notifications", broken)
    labels = {"task": "messaging.tasks.notify_mentions", "reason": "RuntimeError"}
    before = sample("taskflow_celery_task_failures_total", **labels)

    result = tasks.notify_mentions.apply(args=("chat_message", 1))

    assert result.failed()
    assert sample("taskflow_celery_task_failures_total", **labels) == before + 1


@pytest.mark.django_db
def test_emails_sent_and_failed_are_counted(settings):
    settings.EMAIL_BACKEND = "kanban_board.metrics.MeteredEmailBackend"
    settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    sent_before = sample("taskflow_emails_total", outcome="sent")
    failed_before = sample("taskflow_emails_total", outcome="failed")

    mail.send_mail("Hi", "Body", "taskflow@example.com", ["bob@example.com"])
    assert len(mail.outbox) == 1
    assert sample("taskflow_emails_total", outcome="sent") == sent_before + 1

    settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    with pytest.raises(OSError):
        mail.send_mail("Hi", "Body", "taskflow@example.com", ["bob@example.com"])
    assert sample("taskflow_emails_total", outcome="failed") == failed_before + 1


def test_frame_types_are_read_without_parsing_and_bounded():
    from kanban_board.metrics import consumer_label, frame_type

    assert frame_type('{"type": "chat_message", "message": "x"}') == "chat_message"
    assert frame_type('{"message": "x", "type":"typing"}') == "typing"
    assert frame_type('{"type": "drop_tables"}') == "other"
    assert frame_type("not json") == "none"
    assert frame_type(None) == "binary"
    assert consumer_label("/ws/chat-room/12/") == "chat-room"
    assert consumer_label("/ws/../../etc/") == "other"
    assert re.fullmatch(r"[a-z_]+", frame_type('{"type": "' + "a" * 500 + '"}'))

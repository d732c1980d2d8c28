"""Mention notifications created by a REAL Celery worker process on REDIS_URL.

Each test claims a free Redis database (the root conftest's `broker_url`) so parallel runs
never share a queue, points this process's Celery app and a `celery worker --pool=solo` child at it,
and shares the test database with the worker (transactional_db: data is committed).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from messaging import realtime
from messaging.models import ChatMessage, Notification
from messaging.services.notifications import sweep_missed_mentions
from messaging.services.posting import post_chat_message
from messaging.tasks import sweep_missed_mentions as sweep_task
from tests.factories import BoardFactory, ChatRoomFactory
from tests.live import database_url_for, publishing_to, wait_for

pytestmark = pytest.mark.worker

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1
VISIBILITY_TIMEOUT = 3  # seconds before an unacknowledged task is redelivered


# --- harness ----------------------------------------------------------------------------


@pytest.fixture
def team(transactional_db, alice, bob):
    board = BoardFactory(created_by=alice, members=[bob])
    return ChatRoomFactory(board=board, created_by=alice, name="General", members=[bob])


def notifications_for(message: ChatMessage) -> int:
    return Notification.objects.filter(chat_message=message).count()


@contextmanager
def notification_table_locked() -> Iterator[None]:
    """Hold a lock from another connection so a worker touching notifications blocks (and can
    be killed mid-task). Nothing in this process may query the table meanwhile."""
    if connection.vendor == "postgresql":
        import psycopg

        with psycopg.connect(database_url_for(connection.settings_dict)) as conn:
            conn.execute("LOCK TABLE messaging_notification IN ACCESS EXCLUSIVE MODE")
            try:
                yield
            finally:
                conn.rollback()
    else:
        conn = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()


# --- tests ------------------------------------------------------------------------------


def test_real_worker_creates_the_notification_and_pushes_it(
    team, alice, bob, broker_url, worker_factory, settings
):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [broker_url]},
        }
    }
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    inbox = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(realtime.user_group(bob.pk), inbox)
    worker_factory().start()

    with publishing_to(broker_url):
        started = time.monotonic()
        message = post_chat_message(room=team, author=alice, content="@bob see this")
        enqueue_seconds = time.monotonic() - started

    wait_for(lambda: notifications_for(message), timeout=30, what="the worker's notification")
    elapsed = time.monotonic() - started
    notification = Notification.objects.get(chat_message=message)
    assert notification.recipient == bob
    message.refresh_from_db()
    assert message.mentions_notified_at is not None

    async def receive() -> dict:
        return await asyncio.wait_for(layer.receive(inbox), 10)

    frame = json.loads(async_to_sync(receive)()["text"])
    assert frame["type"] == "notification"
    assert frame["notification_id"] == notification.pk
    assert frame["unread_count"] == 1
    print(f"\nposting took {enqueue_seconds:.3f}s; notification created {elapsed:.2f}s after")


def test_killed_worker_task_is_redelivered_and_notifies_exactly_once(
    team, alice, bob, broker_url, worker_factory
):
    """acks_late: a worker SIGKILLed mid-task never acknowledged it, so after the visibility
    timeout a restarted worker runs it again; the sweep afterwards finds nothing owed."""
    with publishing_to(broker_url):
        message = post_chat_message(room=team, author=alice, content="@bob kill me")

    first = worker_factory(CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT))
    with notification_table_locked():
        first.start()
        # received, and (solo pool) running: blocked on the lock
        first.wait_for_log(r"notify_mentions\[[-0-9a-f]+\] received", timeout=30)
        time.sleep(1)
        first.kill()
    assert "succeeded" not in first.log()
    assert notifications_for(message) == 0
    message.refresh_from_db()
    assert message.mentions_notified_at is None  # the killed transaction rolled back

    time.sleep(VISIBILITY_TIMEOUT + 1)
    second = worker_factory(CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT)).start()
    wait_for(lambda: notifications_for(message), timeout=60, what="the redelivered task")
    second.wait_for_log(r"notify_mentions\[[-0-9a-f]+\] succeeded .*: 1", timeout=30)

    assert sweep_missed_mentions(older_than_seconds=0) == 0
    assert Notification.objects.filter(recipient=bob).count() == 1


def test_dead_broker_posting_is_fast_and_the_swept_notification_comes_once(
    team, alice, bob, broker_url, worker_factory
):
    """The web process cannot reach its broker: posting still returns at once and the
    message is saved; the sweep (run by the worker on the live broker) creates it later."""
    worker = worker_factory().start()

    with publishing_to(DEAD_BROKER):
        started = time.monotonic()
        message = post_chat_message(room=team, author=alice, content="@bob broker is down")
        elapsed = time.monotonic() - started
    assert elapsed < 3, f"posting with a dead broker took {elapsed:.2f}s"
    time.sleep(2)
    assert notifications_for(message) == 0
    message.refresh_from_db()
    assert message.mentions_notified_at is None

    with publishing_to(broker_url):
        sweep_task.apply_async(kwargs={"older_than_seconds": 0})
        wait_for(lambda: notifications_for(message), timeout=30, what="the swept notification")
        worker.wait_for_log(r"sweep_missed_mentions\[[-0-9a-f]+\] succeeded .*: 1", timeout=10)
        sweep_task.apply_async(kwargs={"older_than_seconds": 0})
        time.sleep(3)
    assert Notification.objects.filter(recipient=bob).count() == 1
    print(f"\nposting with a dead broker took {elapsed:.3f}s")


def test_a_worker_exports_its_task_metrics(team, alice, bob, broker_url, worker_factory):
    """CELERY_METRICS_PORT: the worker serves its own Prometheus numbers (it has no Django
    HTTP server); a task it ran shows up there with its run time."""
    import urllib.request

    from tests.live import free_port

    port = free_port()
    worker_factory(CELERY_METRICS_PORT=str(port)).start()
    with publishing_to(broker_url):
        message = post_chat_message(room=team, author=alice, content="@bob metrics")
    wait_for(lambda: notifications_for(message), timeout=30, what="the worker's notification")

    def scraped() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            return resp.read().decode()

    line = 'taskflow_celery_task_seconds_count{task="messaging.tasks.notify_mentions"} 1.0'
    wait_for(lambda: line in scraped(), timeout=10, what="the task in the worker's metrics")

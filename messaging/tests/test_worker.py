"""Mention notifications created by a REAL Celery worker process on REDIS_URL.

Each test claims a free Redis database (a SET NX key in DBs 15..1) so parallel runs never
share a queue, points this process's Celery app and a `celery worker --pool=solo` child at it,
and shares the test database with the worker (transactional_db: data is committed).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from conftest import require
from kanban_board.celery import app as celery_app
from messaging import realtime
from messaging.models import ChatMessage, Notification
from messaging.services.notifications import sweep_missed_mentions
from messaging.services.posting import post_chat_message
from messaging.tasks import sweep_missed_mentions as sweep_task
from tests.factories import BoardFactory, ChatRoomFactory
from tests.live import ROOT, database_url_for

pytestmark = pytest.mark.worker

CLAIM_KEY = "taskflow:test-claim"
DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1
VISIBILITY_TIMEOUT = 3  # seconds before an unacknowledged task is redelivered


# --- harness ----------------------------------------------------------------------------


def wait_for(predicate: Callable[[], object], *, timeout: float, what: str, every=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def broker_url(redis_url) -> Iterator[str]:
    """A Redis database of our own on the REDIS_URL server, released (and its keys) after."""
    import redis

    parts = urlsplit(redis_url)
    token = uuid.uuid4().hex
    for db in range(15, 0, -1):
        url = urlunsplit(parts._replace(path=f"/{db}"))
        client = redis.Redis.from_url(url)
        try:
            if client.set(CLAIM_KEY, token, nx=True, ex=900):
                break
        except redis.ResponseError:  # server has fewer databases
            continue
    else:
        require(False, "worker", "no free Redis database (1-15) to run a worker test in")
    yield url
    for pattern in ("celery*", "unacked*", "_kombu*", "asgi*", ":1:*"):
        for key in client.scan_iter(pattern):
            client.delete(key)
    if client.get(CLAIM_KEY) == token.encode():
        client.delete(CLAIM_KEY)


def _reset_pools() -> None:
    celery_app._pool = None  # connection pools are cached per broker URL
    celery_app.amqp._producer_pool = None


@contextmanager
def publishing_to(url: str) -> Iterator[None]:
    """This process's Celery app publishes for real (not eagerly) to `url`."""
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager = False
    conf.broker_url = url
    _reset_pools()
    try:
        yield
    finally:
        conf.task_always_eager, conf.broker_url = saved
        _reset_pools()


class CeleryWorker:
    """`celery -A kanban_board worker --pool=solo` as a child process."""

    def __init__(self, *, broker_url: str, database_url: str, **extra_env: str) -> None:
        self.name = f"test-{uuid.uuid4().hex[:8]}"
        self.log_path = ROOT / ".test-logs" / f"celery-{self.name}.log"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("REDIS_URL", "DATABASE_URL") and not k.startswith("CELERY_")
        }
        self.env.update(
            DJANGO_SETTINGS_MODULE="kanban_board.settings",
            REDIS_URL=broker_url,
            DATABASE_URL=database_url,
            PYTHONUNBUFFERED="1",
            **extra_env,
        )
        self.proc: subprocess.Popen | None = None

    def start(self, *, timeout: float = 90) -> CeleryWorker:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "kanban_board",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                "-n",
                f"{self.name}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.wait_for_log(r" ready\.", timeout=timeout)
        return self

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")[self.offset :]

    def wait_for_log(self, pattern: str, *, timeout: float) -> None:
        """Wait for a regex in this run's log (the banner lists task names: match more)."""

        def seen() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"worker exited ({self.proc.returncode}):\n{self.log()}")
            return re.search(pattern, self.log()) is not None

        wait_for(seen, timeout=timeout, what=f"{pattern!r} in the worker log {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no chance to acknowledge, requeue or clean up."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def worker_factory(transactional_db, broker_url) -> Iterator[Callable[..., CeleryWorker]]:
    """Factory for worker processes on our Redis DB and the test database; all are stopped
    before the database is flushed."""
    database_url = database_url_for(connection.settings_dict)
    workers: list[CeleryWorker] = []

    def make(**extra_env: str) -> CeleryWorker:
        worker = CeleryWorker(broker_url=broker_url, database_url=database_url, **extra_env)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.stop()


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

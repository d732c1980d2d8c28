"""Outgoing webhooks delivered by a REAL Celery worker on REDIS_URL: the retry is a countdown
task in the worker (no timer, no sweep), and it reaches the receiver with the same delivery id.
Harness: messaging/tests/test_worker.py."""

from __future__ import annotations

import itertools

import pytest

from kanban import services as kanban
from tests.live import publishing_to, wait_for
from webhooks import services
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.worker


@pytest.fixture
def worker_factory(transactional_db, broker_url):
    from django.db import connection

    from tests.live import CeleryWorker, database_url_for, worker_env

    database_url = database_url_for(connection.settings_dict)
    workers: list[CeleryWorker] = []

    def make(**extra_env: str) -> CeleryWorker:
        worker = CeleryWorker(
            worker_env(broker_url=broker_url, database_url=database_url, **extra_env)
        )
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.stop()


def test_a_real_worker_retries_with_a_countdown_and_delivers(
    alice, board, column, receiver, broker_url, worker_factory, allow_private
):
    receiver.statuses = [500, 500, 200]
    hook = services.create_outgoing_webhook(
        board=board, url=receiver.url, events=["task.created"], created_by=alice
    )
    worker_factory(
        WEBHOOKS_ALLOW_PRIVATE_URLS="true",
        WEBHOOK_RETRY_BASE_SECONDS="0.5",
        WEBHOOK_MAX_ATTEMPTS="5",
    ).start()

    with publishing_to(broker_url):
        kanban.create_task(column=column, title="Ship", created_by=alice)

    got = receiver.wait_for(3, timeout=60)
    assert len(got) == 3
    wait_for(
        lambda: WebhookDelivery.objects.filter(status="delivered").exists(),
        timeout=30,
        what="the delivery recorded as delivered",
    )
    delivery = WebhookDelivery.objects.get()
    assert delivery.status_codes() == ["500", "500", "200"]
    assert {r.headers["X-TaskFlow-Delivery"] for r in got} == {str(delivery.delivery_id)}
    assert [r.headers["X-TaskFlow-Attempt"] for r in got] == ["1", "2", "3"]
    # The waits grow: 0.5 s, then 1 s (recorded times of the attempts).
    times = [h["at"] for h in delivery.history]
    from django.utils.dateparse import parse_datetime

    gaps = [
        (parse_datetime(b) - parse_datetime(a)).total_seconds()
        for a, b in itertools.pairwise(times)
    ]
    assert gaps[0] >= 0.5 and gaps[1] >= 1.0
    assert hook.pk == delivery.webhook_id

"""Every Celery task is bounded in time, and one that hits its soft limit logs and leaves its
work to the sweep (which then does it, exactly once)."""

from __future__ import annotations

import logging

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from kanban_board.celery import app as celery_app
from messaging import tasks
from messaging.models import ChatMessage, Notification
from messaging.services import notifications
from messaging.services.posting import post_chat_message

OUR_APPS = ("accounts.", "kanban.", "messaging.", "kanban_board.")


def test_every_task_has_a_soft_and_a_hard_time_limit():
    ours = {name: task for name, task in celery_app.tasks.items() if name.startswith(OUR_APPS)}
    assert "messaging.tasks.notify_mentions" in ours
    for name, task in ours.items():
        soft, hard = task.soft_time_limit, task.time_limit
        assert soft and hard, f"{name} has no time limits"
        assert soft < hard, f"{name}: soft limit {soft}s must come before the hard {hard}s"


@pytest.mark.django_db
def test_a_task_at_its_soft_limit_logs_and_the_sweep_does_the_work(
    room, alice, bob, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    real = notifications.create_mention_notifications

    def too_slow(**_):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(tasks.notifications, "create_mention_notifications", too_slow)
    with (
        caplog.at_level(logging.WARNING, logger="messaging.tasks"),
        django_capture_on_commit_callbacks(execute=True),  # the (eager) task runs on commit
    ):
        message = post_chat_message(room=room, author=alice, content="@bob look")

    assert "soft limit" in caplog.text
    assert not Notification.objects.filter(chat_message=message).exists()
    assert ChatMessage.objects.get(pk=message.pk).mentions_notified_at is None  # still owed

    monkeypatch.setattr(tasks.notifications, "create_mention_notifications", real)
    assert tasks.sweep_missed_mentions.apply(kwargs={"older_than_seconds": 0}).get() == 1
    assert tasks.sweep_missed_mentions.apply(kwargs={"older_than_seconds": 0}).get() == 0
    assert Notification.objects.filter(chat_message=message, recipient=bob).count() == 1

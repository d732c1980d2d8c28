"""Due-date reminders: the assignee hears the day before and once overdue, once each, and is
e-mailed one that is still unread after the delay (as other notifications are)."""

from __future__ import annotations

import datetime
import json
from unittest import mock

import pytest
from django.core import mail
from django.db import IntegrityError
from django.utils import timezone

from accounts.models import NotificationPreferences
from kanban import reminders, services
from kanban.models import DueReminder
from kanban.tasks import send_due_reminders
from messaging.models import Notification
from messaging.services import email as email_service
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 30)


def due(todo, bob, days: int, title: str = "Ship"):
    return TaskFactory(
        column=todo, title=title, assignee=bob, due_date=TODAY + datetime.timedelta(days)
    )


def reminders_for(user) -> list[tuple[str, str]]:
    return list(
        Notification.objects.filter(recipient=user)
        .order_by("pk")
        .values_list("notification_type", "text")
    )


def test_assignee_is_told_the_day_before_once(todo, bob):
    task = due(todo, bob, 1)

    assert reminders.send_due_reminders(today=TODAY) == 1
    assert reminders.send_due_reminders(today=TODAY) == 0

    assert reminders_for(bob) == [("due_soon", '"Ship" on Launch is due tomorrow.')]
    notification = Notification.objects.get(recipient=bob)
    assert notification.get_absolute_url() == f"/tasks/{task.pk}/"


def test_assignee_is_told_once_when_overdue(todo, bob):
    due(todo, bob, -3)

    assert reminders.send_due_reminders(today=TODAY) == 1
    assert reminders.send_due_reminders(today=TODAY + datetime.timedelta(1)) == 0

    assert reminders_for(bob) == [
        ("overdue", '"Ship" on Launch is overdue (it was due Fri 27 Nov).')
    ]


def test_the_day_before_then_overdue_are_two_reminders(todo, bob):
    due(todo, bob, 1)
    reminders.send_due_reminders(today=TODAY)
    reminders.send_due_reminders(today=TODAY + datetime.timedelta(2))

    assert [kind for kind, _ in reminders_for(bob)] == ["due_soon", "overdue"]


def test_no_reminder_for_unassigned_later_or_today(todo, bob):
    TaskFactory(column=todo, due_date=TODAY + datetime.timedelta(1))  # nobody to tell
    due(todo, bob, 2)
    due(todo, bob, 0)

    assert reminders.send_due_reminders(today=TODAY) == 0
    assert not Notification.objects.exists()


def test_a_new_due_date_earns_a_new_reminder(todo, bob, alice):
    task = due(todo, bob, 1)
    reminders.send_due_reminders(today=TODAY)
    services.update_task(
        task=task,
        title=task.title,
        description="",
        assignee=bob,
        priority=task.priority,
        due_date=TODAY + datetime.timedelta(1),
        updated_by=alice,
    )
    assert reminders.send_due_reminders(today=TODAY) == 0  # same date: already told

    task.due_date = TODAY + datetime.timedelta(2)
    task.save(update_fields=["due_date"])
    assert reminders.send_due_reminders(today=TODAY + datetime.timedelta(1)) == 1


def test_the_database_refuses_a_second_reminder_of_a_kind_for_one_date(todo, bob):
    task = due(todo, bob, 1)
    DueReminder.objects.create(task=task, kind="due_soon", due_date=task.due_date, recipient=bob)
    with pytest.raises(IntegrityError):
        DueReminder.objects.create(
            task=task, kind="due_soon", due_date=task.due_date, recipient=bob
        )


def test_a_run_racing_another_sends_nothing_twice(todo, bob):
    """The second run's insert hits the constraint (as if a concurrent run committed first)."""
    task = due(todo, bob, 1)
    DueReminder.objects.create(task=task, kind="due_soon", due_date=task.due_date, recipient=bob)
    with mock.patch.object(reminders, "_owed", lambda kind, tasks: tasks.filter(pk=task.pk)):
        assert reminders.send_due_reminders(today=TODAY) == 0
    assert not Notification.objects.exists()


def test_the_reminder_is_pushed_to_the_assignee_after_commit(
    todo, bob, listen, django_capture_on_commit_callbacks
):
    due(todo, bob, 1)
    bobs_sockets = listen(f"user_{bob.pk}")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reminders.send_due_reminders(today=TODAY)
    assert bobs_sockets.events() == []  # nothing before commit
    for callback in callbacks:
        callback()

    (event,) = bobs_sockets.events()
    assert event["type"] == "user.push"
    assert json.loads(event["text"])["notification_type"] == "due_soon"


def test_the_beat_task_uses_today(todo, bob):
    TaskFactory(column=todo, assignee=bob, due_date=timezone.localdate() - datetime.timedelta(1))
    assert send_due_reminders.delay().get() == 1


def test_opening_the_task_reads_its_reminders(todo, bob, client_for):
    task = due(todo, bob, 1)
    reminders.send_due_reminders(today=TODAY)
    client_for(bob).get(task.get_absolute_url())
    assert not Notification.objects.filter(recipient=bob, is_read=False).exists()


# --- e-mail to an assignee who is away (issue 11's machinery) ----------------------------


@pytest.fixture
def email_delay(settings):
    settings.NOTIFICATION_EMAIL_DELAY_MINUTES = 10
    settings.SITE_URL = "https://taskflow.example"


def email_run(minutes_later: int = 11) -> int:
    return email_service.send_notification_emails(
        now=timezone.now() + datetime.timedelta(minutes=minutes_later)
    )


def test_an_unread_reminder_is_emailed_once_after_the_delay(todo, bob, email_delay):
    task = due(todo, bob, 1)
    reminders.send_due_reminders(today=TODAY)

    assert email_run(minutes_later=5) == 0  # not yet: bob may still read it in the app
    assert email_run() == 1
    assert email_run(minutes_later=20) == 0

    [sent] = mail.outbox
    assert sent.to == ["bob@example.com"]
    assert sent.subject == 'TaskFlow: "Ship" on Launch is due tomorrow.'
    assert f"https://taskflow.example/tasks/{task.pk}/" in sent.body


def test_a_reminder_read_in_the_app_is_not_emailed(todo, bob, client_for, email_delay):
    task = due(todo, bob, -2)
    reminders.send_due_reminders(today=TODAY)
    client_for(bob).get(task.get_absolute_url())

    assert email_run() == 0
    assert mail.outbox == []


def test_reminder_emails_follow_the_tasks_assigned_to_you_choice(todo, bob, email_delay):
    NotificationPreferences.objects.create(user=bob, task_assigned="never")
    due(todo, bob, 1)
    reminders.send_due_reminders(today=TODAY)

    assert email_run() == 0
    assert mail.outbox == []
    assert Notification.objects.filter(recipient=bob, notification_type="due_soon").exists()


def test_the_reminder_emails_unsubscribe_link_turns_off_tasks_assigned_to_you(
    todo, bob, client, email_delay
):
    due(todo, bob, -1)
    reminders.send_due_reminders(today=TODAY)
    email_run()
    [sent] = mail.outbox
    unsubscribe = sent.extra_headers["List-Unsubscribe"].strip("<>")

    client.post(unsubscribe.removeprefix("https://taskflow.example"))

    assert NotificationPreferences.objects.get(user=bob).task_assigned == "never"

"""E-mail to people who are away (issue 11): what is e-mailed and when, batching, at most
once, hourly digests, preferences and the one-click unsubscribe. The mail goes through
Django's e-mail framework to the test outbox (the worker tier does it with a real SMTP
server)."""

from __future__ import annotations

import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils import timezone

from accounts.models import NotificationPreferences
from accounts.notification_prefs import unsubscribe_token
from messaging.models import Notification
from messaging.services import email as email_service
from messaging.services.editing import delete_chat_message
from tests.factories import BoardFactory, ChatMessageFactory, ChatRoomFactory, UserFactory

Type = Notification.Type


class RefusingBackend(BaseEmailBackend):
    """A mail server that refuses every message (as a dead SMTP relay would)."""

    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("connection lost")


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.NOTIFICATION_EMAIL_DELAY_MINUTES = 10
    settings.SITE_URL = "https://taskflow.example"


def notify(recipient, kind=Type.MENTION, *, sender=None, minutes_ago=11, **target) -> Notification:
    """A notification `minutes_ago` old (as the services leave it: unread, unclaimed)."""
    note = Notification.objects.create(
        recipient=recipient, sender=sender, notification_type=kind, text=f"{kind} for you", **target
    )
    Notification.objects.filter(pk=note.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return note


@pytest.fixture
def message(room, alice):
    return ChatMessageFactory(chat_room=room, author=alice, content="@bob hello")


def run(**kwargs) -> int:
    return email_service.send_notification_emails(**kwargs)


# --- what is e-mailed -------------------------------------------------------------------


def test_an_unread_mention_is_emailed_once_after_the_delay(room, message, alice, bob):
    note = notify(bob, sender=alice, chat_message=message)

    assert run() == 1
    [sent] = mail.outbox
    assert sent.to == ["bob@example.com"]
    assert sent.subject == "TaskFlow: mention for you"
    assert "mention for you" in sent.body
    assert f"https://taskflow.example/messaging/room/{room.pk}/#message-{message.pk}" in sent.body
    html, mimetype = sent.alternatives[0]
    assert mimetype == "text/html"
    assert f'href="https://taskflow.example/messaging/room/{room.pk}/#message-{message.pk}"' in html
    unsubscribe = sent.extra_headers["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://taskflow.example/accounts/notifications/unsubscribe/")
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe.strip("<>") in sent.body
    note.refresh_from_db()
    assert note.emailed_at is not None

    assert run() == 0  # at most once
    assert len(mail.outbox) == 1


def test_nothing_is_emailed_before_the_delay(message, bob, settings):
    notify(bob, chat_message=message, minutes_ago=9)
    assert run() == 0
    settings.NOTIFICATION_EMAIL_DELAY_MINUTES = 5
    assert run() == 1


def test_several_pending_events_come_in_one_email_per_person(
    room, message, task, alice, bob, carol
):
    direct = notify(bob, Type.DIRECT_MESSAGE, chat_message=message)
    notify(bob, Type.TASK_ASSIGNED, task=task)
    notify(bob, Type.REPLY, chat_message=ChatMessageFactory(chat_room=room, author=alice))
    notify(carol, Type.TASK_ASSIGNED, task=task)
    Notification.objects.filter(pk=direct.pk).update(text="alice sent you a message")

    assert run() == 2
    by_person = {sent.to[0]: sent for sent in mail.outbox}
    bobs = by_person["bob@example.com"]
    assert bobs.subject == "TaskFlow: 3 things you have not read"
    for text in ("alice sent you a message", "task_assigned for you", "reply for you"):
        assert text in bobs.body
    assert by_person["carol@example.com"].subject == "TaskFlow: task_assigned for you"


@pytest.mark.parametrize("kind", [Type.TASK_COMMENT, Type.BOARD_INVITE, Type.ROOM_INVITE])
def test_other_kinds_are_not_emailed(kind, bob, board):
    notify(bob, kind, board=board)
    assert run() == 0


def test_never_about_something_read_or_dismissed(room, message, alice, bob):
    read = notify(bob, chat_message=message)
    dismissed = notify(bob, Type.DIRECT_MESSAGE, chat_message=ChatMessageFactory(chat_room=room))
    Notification.objects.filter(pk=read.pk).update(is_read=True)
    Notification.objects.filter(pk=dismissed.pk).update(dismissed_at=timezone.now(), is_read=True)
    assert run() == 0
    assert mail.outbox == []


def test_never_about_a_deleted_message(message, alice, bob):
    notify(bob, chat_message=message)
    delete_chat_message(message=message, deleted_by=alice)
    assert run() == 0


def test_never_about_a_room_the_person_can_no_longer_read(room, message, bob):
    notify(bob, chat_message=message)
    room.members.remove(bob)
    assert run() == 0


def test_never_to_an_inactive_person_or_one_without_an_address(message, bob, carol, task):
    notify(bob, chat_message=message)
    notify(carol, Type.TASK_ASSIGNED, task=task)
    type(bob).objects.filter(pk=bob.pk).update(is_active=False)
    type(carol).objects.filter(pk=carol.pk).update(email="")
    assert run() == 0


def test_a_muted_room_is_not_emailed(message, room, bob):
    """bob muted the room (the unread counts' RoomReadState.muted): the e-mail run settles
    his notification from it without an e-mail, and unmuting does not send it later."""
    from messaging.services.read_state import set_room_muted

    note = notify(bob, chat_message=message)
    set_room_muted(room=room, user=bob, muted=True)
    assert run() == 0
    set_room_muted(room=room, user=bob, muted=False)
    assert run() == 0
    note.refresh_from_db()
    assert note.email_claim == email_service.SKIPPED


# --- at most once -----------------------------------------------------------------------


def test_a_second_claim_gets_nothing_and_a_crash_after_the_claim_loses_the_email(message, bob):
    notify(bob, chat_message=message)
    token = email_service.claim_due_notifications()
    assert token is not None
    assert email_service.claim_due_notifications() is None  # a second worker, a retry
    # The first run "crashed" before sending: the next run does not send it either.
    assert run() == 0
    assert mail.outbox == []
    # The claim's owner sends it exactly once.
    assert email_service.send_claimed(token) == 1
    assert len(mail.outbox) == 1


def test_a_refused_email_is_not_retried(message, bob, settings):
    note = notify(bob, chat_message=message)
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    assert run() == 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert run() == 0
    assert mail.outbox == []
    note.refresh_from_db()
    assert note.email_claimed_at is not None and note.emailed_at is None


def test_one_person_refused_does_not_stop_the_others(message, task, bob, carol, settings):
    notify(bob, chat_message=message)
    notify(carol, Type.TASK_ASSIGNED, task=task)
    type(bob).objects.filter(pk=bob.pk).update(email="not an address\n")
    assert run() == 1
    assert [sent.to for sent in mail.outbox] == [["carol@example.com"]]


def test_a_run_takes_a_constant_number_of_queries_plus_one_update_per_person(
    alice, django_assert_max_num_queries
):
    people = [UserFactory(username=f"p{i}") for i in range(6)]
    board = BoardFactory(created_by=alice, members=people)
    room = ChatRoomFactory(board=board, created_by=alice, members=people)
    for person in people:
        for _ in range(3):
            notify(person, chat_message=ChatMessageFactory(chat_room=room, author=alice))
    with django_assert_max_num_queries(8 + len(people)):
        assert run() == len(people)


# --- hourly digests and preferences -----------------------------------------------------


def test_an_hourly_digest_waits_an_hour_after_the_last(message, task, bob):
    NotificationPreferences.objects.create(user=bob, mention=NotificationPreferences.Email.HOURLY)
    notify(bob, chat_message=message)
    assert run() == 1  # the first digest goes at once

    notify(bob, chat_message=ChatMessageFactory(chat_room=message.chat_room))
    notify(bob, Type.TASK_ASSIGNED, task=task)  # immediate by default
    assert run() == 1
    assert "task_assigned for you" in mail.outbox[-1].body
    assert "mention for you" not in mail.outbox[-1].body
    later = timezone.now() + timedelta(minutes=61)
    assert run(now=later) == 1
    assert "mention for you" in mail.outbox[-1].body
    assert len(mail.outbox) == 3


def test_never_means_never(message, bob):
    NotificationPreferences.objects.create(user=bob, mention=NotificationPreferences.Email.NEVER)
    notify(bob, chat_message=message)
    assert run() == 0
    assert mail.outbox == []


def test_the_preferences_page_saves_a_choice_per_kind(client_for, bob):
    client = client_for(bob)
    url = reverse("accounts:notification_preferences")
    page = client.get(url)
    assert page.status_code == 200
    assert b"Hourly digest" in page.content
    assert b'id="browser-notifications-enable"' in page.content

    response = client.post(
        url,
        {
            "direct_message": "immediate",
            "mention": "hourly",
            "reply": "never",
            "task_assigned": "immediate",
        },
    )
    assert response.status_code == 302
    prefs = NotificationPreferences.objects.get(user=bob)
    assert (prefs.mention, prefs.reply, prefs.direct_message) == ("hourly", "never", "immediate")


def test_the_preferences_page_refuses_an_unknown_choice(client_for, bob):
    response = client_for(bob).post(
        reverse("accounts:notification_preferences"),
        {
            "direct_message": "sometimes",
            "mention": "hourly",
            "reply": "never",
            "task_assigned": "never",
        },
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert not NotificationPreferences.objects.filter(user=bob).exists()


def test_the_preferences_page_needs_a_login(client):
    response = client.get(reverse("accounts:notification_preferences"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# --- unsubscribe ------------------------------------------------------------------------


def unsubscribe_link(sent) -> str:
    return (
        sent.extra_headers["List-Unsubscribe"].strip("<>").removeprefix("https://taskflow.example")
    )


def test_one_click_unsubscribe_works_without_login_or_csrf(message, task, bob):
    notify(bob, chat_message=message)
    notify(bob, Type.TASK_ASSIGNED, task=task)
    run()
    link = unsubscribe_link(mail.outbox[0])

    from django.test import Client

    mail_client = Client(enforce_csrf_checks=True)  # a mail client: no cookies, no token
    response = mail_client.post(
        link, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    prefs = NotificationPreferences.objects.get(user=bob)
    assert (prefs.mention, prefs.task_assigned) == ("never", "never")
    assert (prefs.direct_message, prefs.reply) == ("immediate", "immediate")  # not in that e-mail

    notify(bob, chat_message=ChatMessageFactory(chat_room=message.chat_room))
    assert run() == 0


def test_the_unsubscribe_link_shows_a_confirmation_first(client, bob):
    link = reverse(
        "accounts:unsubscribe", args=[unsubscribe_token(user_id=bob.pk, kinds=["reply"])]
    )
    page = client.get(link)
    assert page.status_code == 200
    assert (
        b"Stop e-mails to <strong>bob@example.com</strong> about replies to your threads?"
        in page.content
    )
    assert not NotificationPreferences.objects.filter(user=bob).exists()  # GET changes nothing

    done = client.post(link)
    assert b"you will get no more e-mails about replies to your threads" in done.content
    assert NotificationPreferences.objects.get(user=bob).reply == "never"


@pytest.mark.parametrize("token", ["nonsense", "eyJ1IjoxfQ:forged:signature"])
def test_a_bad_unsubscribe_token_is_refused_and_changes_nothing(client, bob, token):
    response = client.post(reverse("accounts:unsubscribe", args=[token]))
    assert response.status_code == 400
    assert b"This unsubscribe link is not valid" in response.content
    assert not NotificationPreferences.objects.exists()


def test_a_token_cannot_be_turned_into_someone_elses(client, bob, carol):
    """The signature covers the user id: carol's payload under bob's signature is refused."""
    bobs = unsubscribe_token(user_id=bob.pk, kinds=["mention"])
    carols = unsubscribe_token(user_id=carol.pk, kinds=["mention"])
    forged = carols.split(":", 1)[0] + ":" + bobs.split(":", 1)[1]
    assert forged != carols
    response = client.post(reverse("accounts:unsubscribe", args=[forged]))
    assert response.status_code == 400
    assert not NotificationPreferences.objects.exists()


def test_the_management_command_runs_the_same_sending(message, bob):
    from io import StringIO

    from django.core.management import call_command

    notify(bob, chat_message=message)
    out = StringIO()
    call_command("send_notification_emails", stdout=out)
    assert out.getvalue() == "Sent 1 e-mail(s).\n"
    assert [sent.to for sent in mail.outbox] == [["bob@example.com"]]

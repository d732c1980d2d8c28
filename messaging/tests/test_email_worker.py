"""Notification e-mails sent by REAL Celery worker processes to a REAL SMTP server (issue 11).

aiosmtpd listens in this process on a free loopback port; the workers' EMAIL_URL points at
it, so every e-mail goes through Django's SMTP backend and is parsed here as a mail client
would. The workers share the test database (transactional_db) and a Redis database of this
test's own (the root conftest's `broker_url`).
"""

from __future__ import annotations

import email
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import NotificationPreferences
from messaging.models import Notification
from messaging.services.editing import delete_chat_message
from messaging.tasks import send_notification_emails
from tests.factories import (
    BoardFactory,
    ChatMessageFactory,
    ChatRoomFactory,
    ColumnFactory,
    TaskFactory,
    UserFactory,
    join_organization,
)
from tests.live import (
    CeleryWorker,
    database_url_for,
    free_port,
    publishing_to,
    wait_for,
    worker_env,
)

pytestmark = pytest.mark.worker

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")

SITE_URL = "http://taskflow.test"
Type = Notification.Type


# --- harness ----------------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler that keeps every message it receives, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(
            email.message_from_bytes(envelope.original_content, policy=default_policy)
        )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in m["To"]]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def workers(transactional_db, broker_url, smtp) -> Iterator[Callable[[], CeleryWorker]]:
    """Factory for worker processes that mail through the test's SMTP server."""
    _inbox, port = smtp
    database_url = database_url_for(connection.settings_dict)
    started: list[CeleryWorker] = []

    def make() -> CeleryWorker:
        env = worker_env(
            broker_url=broker_url,
            database_url=database_url,
            EMAIL_URL=f"smtp://127.0.0.1:{port}",
            SITE_URL=SITE_URL,
            NOTIFICATION_EMAIL_DELAY_MINUTES="10",
            DEFAULT_FROM_EMAIL="TaskFlow <notify@taskflow.test>",
        )
        worker = CeleryWorker(env).start()
        started.append(worker)
        return worker

    yield make
    for worker in started:
        worker.stop()


RESULT = re.compile(r"send_notification_emails\[[-0-9a-f]+\] succeeded in [0-9.e-]+s: (\d+)")


def results_of(worker: CeleryWorker) -> list[int]:
    """The result of every finished send_notification_emails run in the worker's log."""
    return [int(n) for n in RESULT.findall(worker.log())]


def run_and_wait(broker_url: str, workers_: list[CeleryWorker], *, runs: int = 1) -> list[int]:
    """Publish `runs` e-mail runs, wait until that many more have finished (on any of the
    workers), and return their results."""
    before = [len(results_of(w)) for w in workers_]

    def new_results() -> list[int]:
        return [n for w, seen in zip(workers_, before, strict=True) for n in results_of(w)[seen:]]

    with publishing_to(broker_url):
        for _ in range(runs):
            send_notification_emails.apply_async()
    wait_for(lambda: len(new_results()) >= runs, timeout=60, what=f"{runs} e-mail run(s) to finish")
    return new_results()


def notify(recipient, kind=Type.MENTION, *, text: str = "", **target) -> Notification:
    """A notification 11 minutes old (past the workers' 10-minute delay), unread."""
    note = Notification.objects.create(
        recipient=recipient,
        notification_type=kind,
        text=text or f"{kind} for {recipient}",
        **target,
    )
    Notification.objects.filter(pk=note.pk).update(
        created_at=timezone.now() - timedelta(minutes=11)
    )
    return note


def text_and_html(message: EmailMessage) -> tuple[str, str]:
    return (
        message.get_body(preferencelist=("plain",)).get_content(),
        message.get_body(preferencelist=("html",)).get_content(),
    )


@pytest.fixture
def team(transactional_db, alice, bob, carol):
    board = BoardFactory(name="Launch", created_by=alice, members=[bob, carol])
    room = ChatRoomFactory(board=board, created_by=alice, name="general", members=[bob, carol])
    task = TaskFactory(column=ColumnFactory(board=board), title="Ship it")
    return board, room, task


# --- tests ------------------------------------------------------------------------------


def test_pending_events_are_batched_in_one_email_per_person_with_unsubscribe_headers(
    team, alice, bob, carol, smtp, workers, broker_url
):
    inbox, _port = smtp
    _board, room, task = team
    message = ChatMessageFactory(chat_room=room, author=alice, content="@bob hi")
    notify(bob, Type.MENTION, text="alice mentioned you in #general", chat_message=message)
    notify(bob, Type.TASK_ASSIGNED, text='alice assigned you "Ship it"', task=task)
    notify(
        bob,
        Type.DIRECT_MESSAGE,
        text="alice sent you a message",
        chat_message=ChatMessageFactory(chat_room=room, author=alice),
    )
    notify(carol, Type.TASK_ASSIGNED, text='alice assigned you "Ship it"', task=task)
    worker = workers()

    assert run_and_wait(broker_url, [worker]) == [2]
    wait_for(lambda: len(inbox.messages) >= 2, timeout=10, what="two e-mails at the SMTP server")

    [bobs] = inbox.to("bob@example.com")
    assert [rcpts for _from, rcpts in inbox.envelopes if "bob@example.com" in rcpts] == [
        ["bob@example.com"]
    ]
    assert bobs["From"] == "TaskFlow <notify@taskflow.test>"
    assert bobs["Subject"] == "TaskFlow: 3 things you have not read"
    text, html = text_and_html(bobs)
    for line in (
        "alice mentioned you in #general",
        'alice assigned you "Ship it"',
        "alice sent you a message",
    ):
        assert line in text
    assert f"{SITE_URL}/messaging/room/{room.pk}/#message-{message.pk}" in text
    assert f'href="{SITE_URL}/tasks/{task.pk}/"' in html
    unsubscribe = bobs["List-Unsubscribe"].strip()  # a long header is folded
    assert re.fullmatch(rf"<{SITE_URL}/accounts/notifications/unsubscribe/[^>]+/>", unsubscribe)
    assert bobs["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe.strip("<>") in text

    [carols] = inbox.to("carol@example.com")
    assert carols["Subject"] == 'TaskFlow: alice assigned you "Ship it"'


def test_two_workers_and_repeated_runs_email_each_notification_at_most_once(
    team, alice, smtp, workers, broker_url
):
    inbox, _port = smtp
    board, room, _task = team
    people = [UserFactory(username=f"away{i}") for i in range(8)]
    board.members.add(*people)
    room.members.add(*people)
    for person in people:
        join_organization(board.organization, person)
        notify(person, chat_message=ChatMessageFactory(chat_room=room, author=alice))
    first, second = workers(), workers()

    results = run_and_wait(broker_url, [first, second], runs=6)
    assert sum(results) == len(people)  # the runs split the people; none twice
    wait_for(lambda: len(inbox.messages) >= len(people), timeout=10, what="the e-mails")
    assert sorted(m["To"] for m in inbox.messages) == sorted(p.email for p in people)

    # A re-run (a retry, the next beat tick) finds nothing left to send.
    assert run_and_wait(broker_url, [first, second], runs=2) == [0, 0]
    assert len(inbox.messages) == len(people)
    assert Notification.objects.filter(emailed_at__isnull=False).count() == len(people)


def test_the_emailed_unsubscribe_link_works_in_one_click(
    team, alice, bob, smtp, workers, broker_url
):
    inbox, _port = smtp
    _board, room, _task = team
    notify(bob, chat_message=ChatMessageFactory(chat_room=room, author=alice))
    worker = workers()
    run_and_wait(broker_url, [worker])
    wait_for(lambda: inbox.to("bob@example.com"), timeout=10, what="bob's e-mail")
    link = inbox.to("bob@example.com")[0]["List-Unsubscribe"].strip().strip("<>")

    # What a mail client does (RFC 8058): POST with no cookies and no CSRF token.
    response = Client(enforce_csrf_checks=True).post(
        urlsplit(link).path,
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert NotificationPreferences.objects.get(user=bob).mention == "never"

    notify(bob, chat_message=ChatMessageFactory(chat_room=room, author=alice))
    assert run_and_wait(broker_url, [worker]) == [0]
    assert len(inbox.to("bob@example.com")) == 1


def test_read_dismissed_and_deleted_are_never_emailed(
    team, alice, bob, carol, smtp, workers, broker_url
):
    inbox, _port = smtp
    _board, room, task = team
    read = notify(bob, chat_message=ChatMessageFactory(chat_room=room, author=alice))
    dismissed = notify(bob, Type.TASK_ASSIGNED, task=task)
    deleted = ChatMessageFactory(chat_room=room, author=alice)
    notify(bob, Type.REPLY, chat_message=deleted)
    Notification.objects.filter(pk=read.pk).update(is_read=True)
    Notification.objects.filter(pk=dismissed.pk).update(is_read=True, dismissed_at=timezone.now())
    delete_chat_message(message=deleted, deleted_by=alice)
    kept = notify(
        carol, text="the one that is sent", chat_message=ChatMessageFactory(chat_room=room)
    )
    worker = workers()

    assert run_and_wait(broker_url, [worker]) == [1]
    wait_for(lambda: inbox.messages, timeout=10, what="carol's e-mail")
    assert [m["To"] for m in inbox.messages] == ["carol@example.com"]
    assert "the one that is sent" in text_and_html(inbox.messages[0])[0]
    kept.refresh_from_db()
    assert kept.emailed_at is not None


def test_a_muted_room_is_never_emailed(team, alice, bob, smtp, workers, broker_url):
    """bob muted the room on its page (RoomReadState.muted): the workers settle his
    notification from it without an e-mail."""
    from messaging.services.read_state import set_room_muted

    inbox, _port = smtp
    _board, room, _task = team
    set_room_muted(room=room, user=bob, muted=True)
    notify(bob, chat_message=ChatMessageFactory(chat_room=room, author=alice))
    worker = workers()

    assert run_and_wait(broker_url, [worker]) == [0]
    assert inbox.messages == []

"""Mention notifications: creation (the Celery task's body), reading, the sweep, and what
happens when the broker is down."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from kanban_board.celery import app as celery_app
from messaging import realtime
from messaging.models import ChatMessage, Notification, TaskThreadComment
from messaging.services import notifications as services
from messaging.services.posting import post_chat_message, post_task_comment
from messaging.tasks import notify_mentions
from tests.factories import (
    BoardFactory,
    ChatMessageFactory,
    ChatRoomFactory,
    ColumnFactory,
    TaskFactory,
    TaskThreadCommentFactory,
    UserFactory,
)

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


# --- helpers ----------------------------------------------------------------------------


@pytest.fixture
def team(db, alice, bob, carol):
    """alice, bob and carol on a board; a room with alice and bob; a task on the board."""
    outsider = UserFactory(username="outsider")
    board = BoardFactory(created_by=alice, members=[bob, carol])
    room = ChatRoomFactory(board=board, created_by=alice, name="General", members=[bob])
    task = TaskFactory(column=ColumnFactory(board=board), title="Fix login")
    return {"board": board, "room": room, "task": task, "outsider": outsider}


def message_mentioning(room, author, *users, content="hello") -> ChatMessage:
    """A message owing notifications (as the posting service leaves it), built directly."""
    message = ChatMessageFactory(chat_room=room, author=author, content=content)
    message.mentioned_users.add(*users)
    return message


def comment_mentioning(task, author, *users, content="hello") -> TaskThreadComment:
    comment = TaskThreadCommentFactory(task=task, author=author, content=content)
    comment.mentioned_users.add(*users)
    return comment


def backdate(obj, seconds: int = 120) -> None:
    type(obj).objects.filter(pk=obj.pk).update(
        created_at=timezone.now() - timedelta(seconds=seconds)
    )


@contextmanager
def publishing_to(url: str):
    """Real (non-eager) Celery publishing to `url`."""
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager = False
    conf.broker_url = url
    celery_app._pool = None  # pools are cached per broker URL
    celery_app.amqp._producer_pool = None
    try:
        yield
    finally:
        conf.task_always_eager, conf.broker_url = saved
        celery_app._pool = None
        celery_app.amqp._producer_pool = None


@pytest.fixture
def dead_broker():
    """A broker that refuses connections."""
    with publishing_to(DEAD_BROKER):
        yield


@pytest.fixture
def hung_broker():
    """A broker that accepts connections and never answers (a wedged Redis, a black hole)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    with publishing_to(f"redis://127.0.0.1:{server.getsockname()[1]}/0"):
        yield
    stop.set()
    thread.join(timeout=2)
    for conn in accepted:
        conn.close()
    server.close()


# --- create_mention_notifications -------------------------------------------------------


def test_chat_mention_creates_notification_with_text_and_url(team, alice, bob):
    message = message_mentioning(team["room"], alice, bob, content="@bob please review the PR")

    created = services.create_mention_notifications(kind="chat_message", object_id=message.pk)

    assert created == 1
    notification = Notification.objects.get()
    assert notification.recipient == bob
    assert notification.sender == alice
    assert notification.notification_type == Notification.Type.MENTION
    assert notification.chat_message == message
    assert notification.text == 'alice mentioned you in #General: "@bob please review the PR"'
    assert (
        notification.get_absolute_url()
        == f"/messaging/room/{team['room'].pk}/#message-{message.pk}"
    )
    assert not notification.is_read
    message.refresh_from_db()
    assert message.mentions_notified_at is not None


def test_comment_mention_text_names_the_task_and_url_points_at_comment(team, alice, carol):
    comment = comment_mentioning(team["task"], alice, carol, content="@carol can you take this?")

    assert services.create_mention_notifications(kind="comment", object_id=comment.pk) == 1

    notification = Notification.objects.get()
    assert notification.recipient == carol
    assert notification.task_thread_comment == comment
    assert notification.text == 'alice mentioned you on "Fix login": "@carol can you take this?"'
    assert notification.get_absolute_url() == f"/tasks/{team['task'].pk}/#comment-{comment.pk}"


def test_long_text_is_cut_to_80_characters_with_ellipsis(team, alice, bob):
    content = "@bob " + "x" * 200
    message = message_mentioning(team["room"], alice, bob, content=content)

    services.create_mention_notifications(kind="chat_message", object_id=message.pk)

    text = Notification.objects.get().text
    assert text == f'alice mentioned you in #General: "{content[:80]}..."'


def test_running_twice_creates_and_pushes_nothing_new(
    team, alice, bob, django_capture_on_commit_callbacks, listen
):
    message = message_mentioning(team["room"], alice, bob)
    channel = listen(realtime.user_group(bob.pk))

    with django_capture_on_commit_callbacks(execute=True):
        first = notify_mentions.delay("chat_message", message.pk).get()
    with django_capture_on_commit_callbacks(execute=True):
        second = notify_mentions.delay("chat_message", message.pk).get()

    assert (first, second) == (1, 0)
    assert Notification.objects.filter(recipient=bob).count() == 1
    assert [f["type"] for f in channel.payloads()] == ["notification"]


def test_author_and_outsider_are_not_notified(team, alice, bob):
    """Even if they end up in mentioned_users, only readers other than the author count."""
    message = message_mentioning(team["room"], alice, alice, bob, team["outsider"])

    services.create_mention_notifications(kind="chat_message", object_id=message.pk)

    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["bob"]


def test_board_member_outside_the_room_is_not_notified(team, alice, carol):
    message = message_mentioning(team["room"], alice, carol)

    assert services.create_mention_notifications(kind="chat_message", object_id=message.pk) == 0

    assert not Notification.objects.exists()
    message.refresh_from_db()
    assert message.mentions_notified_at is not None  # nothing owed any more


def test_member_removed_from_board_is_not_notified(team, alice, carol):
    comment = comment_mentioning(team["task"], alice, carol)
    team["board"].members.remove(carol)

    assert services.create_mention_notifications(kind="comment", object_id=comment.pk) == 0


def test_deleted_target_creates_nothing(team):
    assert services.create_mention_notifications(kind="chat_message", object_id=999_999) == 0


def test_unknown_kind_is_an_error(team):
    with pytest.raises(ValueError):
        services.create_mention_notifications(kind="email", object_id=1)


def test_new_notification_is_pushed_after_commit_with_unread_count(
    team, alice, bob, django_capture_on_commit_callbacks, listen
):
    old = message_mentioning(team["room"], alice, bob)
    services.create_mention_notifications(kind="chat_message", object_id=old.pk)
    message = message_mentioning(team["room"], alice, bob, content="@bob again")
    channel = listen(realtime.user_group(bob.pk))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.create_mention_notifications(kind="chat_message", object_id=message.pk)
    assert channel.payloads() == []  # nothing reaches a browser before commit
    for callback in callbacks:
        callback()

    (frame,) = channel.payloads()
    notification = Notification.objects.get(chat_message=message)
    assert {k: v for k, v in frame.items() if k != "created_at"} == {
        "type": "notification",
        "notification_id": notification.pk,
        "notification_type": "mention",
        "text": notification.text,
        "url": message.get_absolute_url(),
        "sender": "alice",
        "unread_count": 2,
    }


def test_creation_query_count_is_constant(team, alice, bob, carol, django_assert_max_num_queries):
    """Lock+load the target, recipients, existing, one bulk insert, mark notified, counts
    (plus the savepoint pair): the same for 1 or 20 recipients."""
    team["room"].members.add(carol)
    message = message_mentioning(team["room"], alice, bob, carol)
    with django_assert_max_num_queries(8):
        assert services.create_mention_notifications(kind="chat_message", object_id=message.pk) == 2


# --- through the posting services (eager Celery) ----------------------------------------


def test_posting_a_mention_notifies_through_celery(
    team, alice, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = post_chat_message(room=team["room"], author=alice, content="hi @Bob!")

    notification = Notification.objects.get()
    assert notification.recipient == bob
    assert notification.chat_message == message
    message.refresh_from_db()
    assert message.mentions_notified_at is not None


def test_posting_a_comment_mention_notifies(team, alice, carol, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_task_comment(task=team["task"], author=alice, content="@carol ping")

    assert Notification.objects.get().recipient == carol


def test_posting_without_mentions_owes_nothing(team, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = post_chat_message(room=team["room"], author=alice, content="no mention here")

    assert not Notification.objects.exists()
    message.refresh_from_db()
    assert message.mentions_notified_at is not None


# --- marking read -----------------------------------------------------------------------


@pytest.fixture
def bob_unread(team, alice, bob):
    """Three unread notifications for bob: two from room messages, one from a comment."""
    made = []
    for content in ("@bob one", "@bob two"):
        m = message_mentioning(team["room"], alice, bob, content=content)
        services.create_mention_notifications(kind="chat_message", object_id=m.pk)
        made.append(Notification.objects.get(chat_message=m))
    c = comment_mentioning(team["task"], alice, bob)
    services.create_mention_notifications(kind="comment", object_id=c.pk)
    made.append(Notification.objects.get(task_thread_comment=c))
    return made


def test_mark_notification_read_returns_count_and_pushes_it(
    bob, bob_unread, django_capture_on_commit_callbacks, listen
):
    channel = listen(realtime.user_group(bob.pk))

    with django_capture_on_commit_callbacks(execute=True):
        count = services.mark_notification_read(notification=bob_unread[0], user=bob)

    assert count == 2
    bob_unread[0].refresh_from_db()
    assert bob_unread[0].is_read
    assert channel.payloads() == [{"type": "unread_count", "count": 2}]


def test_mark_read_twice_pushes_once(bob, bob_unread, django_capture_on_commit_callbacks, listen):
    services.mark_notification_read(notification=bob_unread[0], user=bob)
    channel = listen(realtime.user_group(bob.pk))

    with django_capture_on_commit_callbacks(execute=True):
        assert services.mark_notification_read(notification=bob_unread[0], user=bob) == 2

    assert channel.payloads() == []


def test_mark_read_ignores_someone_elses_notification(carol, bob_unread):
    assert services.mark_notification_read(notification=bob_unread[0], user=carol) == 0
    bob_unread[0].refresh_from_db()
    assert not bob_unread[0].is_read


def test_mark_all_read(bob, bob_unread, django_capture_on_commit_callbacks, listen):
    channel = listen(realtime.user_group(bob.pk))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.mark_all_read(user=bob) == 0
    assert not Notification.objects.filter(is_read=False).exists()
    assert channel.payloads() == [{"type": "unread_count", "count": 0}]


def test_mark_read_for_room_reads_only_that_rooms_notifications(team, bob, bob_unread):
    assert services.mark_read_for_room(user=bob, room=team["room"]) == 1
    assert list(Notification.objects.filter(is_read=False)) == [bob_unread[2]]


def test_mark_read_for_task_reads_only_that_tasks_notifications(team, bob, bob_unread):
    assert services.mark_read_for_task(user=bob, task=team["task"]) == 2
    assert Notification.objects.get(pk=bob_unread[2].pk).is_read
    assert Notification.objects.filter(is_read=False).count() == 2


# --- the sweep --------------------------------------------------------------------------


def test_sweep_creates_missed_notifications_exactly_once(team, alice, bob, carol):
    message = message_mentioning(team["room"], alice, bob)
    comment = comment_mentioning(team["task"], alice, bob, carol)
    backdate(message)
    backdate(comment)

    assert services.sweep_missed_mentions() == 3
    assert services.sweep_missed_mentions() == 0

    assert Notification.objects.count() == 3
    message.refresh_from_db()
    comment.refresh_from_db()
    assert message.mentions_notified_at and comment.mentions_notified_at


def test_sweep_leaves_recent_targets_to_the_task(team, alice, bob):
    message_mentioning(team["room"], alice, bob)  # just posted: inside the grace period

    assert services.sweep_missed_mentions(older_than_seconds=30) == 0
    assert not Notification.objects.exists()


def test_sweep_marks_targets_without_mentions_so_they_leave_the_queue(team, alice):
    plain = ChatMessageFactory(chat_room=team["room"], author=alice)
    plain_comment = TaskThreadCommentFactory(task=team["task"], author=alice)
    backdate(plain)
    backdate(plain_comment)

    assert services.sweep_missed_mentions() == 0

    assert not ChatMessage.objects.filter(mentions_notified_at__isnull=True).exists()
    assert not TaskThreadComment.objects.filter(mentions_notified_at__isnull=True).exists()


def test_sweep_ignores_targets_already_notified(team, alice, bob):
    message = message_mentioning(team["room"], alice, bob)
    ChatMessage.objects.filter(pk=message.pk).update(mentions_notified_at=timezone.now())
    backdate(message)

    assert services.sweep_missed_mentions() == 0
    assert not Notification.objects.exists()


def test_sweep_respects_limit_oldest_first(team, alice, bob):
    messages = [message_mentioning(team["room"], alice, bob) for _ in range(3)]
    for m in messages:
        backdate(m)

    assert services.sweep_missed_mentions(limit=2) == 2
    assert set(Notification.objects.values_list("chat_message", flat=True)) == {
        messages[0].pk,
        messages[1].pk,
    }
    assert services.sweep_missed_mentions(limit=2) == 1


def test_sweep_mentions_command_prints_how_many_it_created(team, alice, bob, capsys):
    backdate(message_mentioning(team["room"], alice, bob))

    call_command("sweep_mentions")

    assert capsys.readouterr().out.strip() == "Created 1 mention notification(s)."
    assert Notification.objects.count() == 1


def test_sweep_task_runs_the_sweep(team, alice, bob):
    from messaging.tasks import sweep_missed_mentions

    backdate(message_mentioning(team["room"], alice, bob))
    assert sweep_missed_mentions.delay().get() == 1


def test_beat_schedules_the_sweep_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-missed-mentions"]
    assert entry["task"] == "messaging.tasks.sweep_missed_mentions"
    assert entry["schedule"] == 60.0


# --- broker down ------------------------------------------------------------------------


def test_broker_down_enqueue_returns_fast_and_the_sweep_catches_up(
    team, alice, bob, dead_broker, django_capture_on_commit_callbacks, listen
):
    """The message is saved and broadcast at once; the lost task is recreated by the sweep."""
    room_channel = listen(realtime.room_group(team["room"].pk))

    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        message = post_chat_message(room=team["room"], author=alice, content="@bob urgent")
    elapsed = time.monotonic() - started

    assert elapsed < 3, f"posting with a dead broker took {elapsed:.2f}s"
    assert [f["message_id"] for f in room_channel.payloads()] == [message.pk]
    assert not Notification.objects.exists()
    message.refresh_from_db()
    assert message.mentions_notified_at is None  # still owed

    backdate(message)
    assert services.sweep_missed_mentions() == 1
    assert services.sweep_missed_mentions() == 0
    assert Notification.objects.get().recipient == bob


def test_broker_down_schedule_never_raises(
    team, alice, bob, dead_broker, caplog, django_capture_on_commit_callbacks
):
    message = message_mentioning(team["room"], alice, bob)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        services.schedule_mention_notifications(kind="chat_message", object_id=message.pk)
    assert time.monotonic() - started < 3
    assert "could not queue mention notifications" in caplog.text


def test_hung_broker_enqueue_gives_up_within_3_seconds(
    team, alice, bob, hung_broker, django_capture_on_commit_callbacks
):
    """settings: socket_connect_timeout and socket_timeout bound a broker that never answers."""
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        message = post_chat_message(room=team["room"], author=alice, content="@bob hello?")
    elapsed = time.monotonic() - started

    assert elapsed < 3, f"posting with a hung broker took {elapsed:.2f}s"
    message.refresh_from_db()
    assert message.mentions_notified_at is None

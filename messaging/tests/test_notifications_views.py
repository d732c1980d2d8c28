"""Notification pages and endpoints, the mention autocomplete and the nav count."""

from __future__ import annotations

import re
import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from messaging.models import ChatMessage, Notification
from messaging.services import notifications as services
from tests.factories import (
    BoardFactory,
    ChatMessageFactory,
    ChatRoomFactory,
    UserFactory,
    add_board_members,
)

JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def room(db, alice, bob):
    board = BoardFactory(created_by=alice, members=[bob])
    return ChatRoomFactory(board=board, created_by=alice, name="General", members=[bob])


def notify(room, author, recipient, content="@bob hi") -> Notification:
    message = ChatMessageFactory(chat_room=room, author=author, content=content)
    message.mentioned_users.add(recipient)
    services.create_mention_notifications(kind="chat_message", object_id=message.pk)
    return Notification.objects.get(chat_message=message)


@pytest.fixture
def bob_client(client_for, bob):
    return client_for(bob)


# --- list -------------------------------------------------------------------------------


def test_list_shows_own_notifications_newest_first_with_links(room, alice, bob, carol, bob_client):
    first = notify(room, alice, bob, "@bob first")
    second = notify(room, alice, bob, "@bob second")
    services.mark_notification_read(notification=first, user=bob)
    room.members.add(carol)
    add_board_members(room.board, carol)
    notify(room, alice, carol, "@carol not for bob")

    response = bob_client.get(reverse("messaging:notifications"))

    assert response.status_code == 200
    page = list(response.context["page"].object_list)
    assert page == [second, first]
    html = response.content.decode()
    assert html.index("@bob second") < html.index("@bob first")
    assert "not for bob" not in html
    assert f'href="{second.get_absolute_url()}"' in html
    assert f'id="notification-{second.pk}"' in html
    # unread highlighted, read not
    assert re.search(rf'class="[^"]*\bunread\b[^"]*" id="notification-{second.pk}"', html)
    assert re.search(rf'class="[^"]*" id="notification-{first.pk}"', html)
    assert not re.search(rf'class="[^"]*\bunread\b[^"]*" id="notification-{first.pk}"', html)
    assert reverse("messaging:notification_read_all") in html


def test_list_escapes_notification_text(room, alice, bob, bob_client):
    notify(room, alice, bob, "@bob <script>alert(1)</script>")
    html = bob_client.get(reverse("messaging:notifications")).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_list_is_paginated_25_per_page(room, alice, bob, bob_client):
    for i in range(27):
        notify(room, alice, bob, f"@bob n{i}")

    first = bob_client.get(reverse("messaging:notifications"))
    second = bob_client.get(reverse("messaging:notifications"), {"page": 2})

    assert len(first.context["page"].object_list) == 25
    assert len(second.context["page"].object_list) == 2
    assert second.context["page"].object_list[1].text.endswith('"@bob n0"')


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("messaging:notifications")).status_code == 200
    return len(ctx)


def test_list_query_count_does_not_grow_with_rows(
    room, alice, bob, bob_client, django_assert_max_num_queries
):
    notify(room, alice, bob)
    few = _list_queries(bob_client)
    for i in range(30):
        notify(room, alice, bob, f"@bob {i}")
    with django_assert_max_num_queries(few):
        bob_client.get(reverse("messaging:notifications"))
    # session, user, paginator count, page rows, nav unread count
    assert few <= 6


def test_empty_list(bob_client):
    html = bob_client.get(reverse("messaging:notifications")).content.decode()
    assert 'id="notifications-empty"' in html


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(reverse("messaging:notifications"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


# --- mark read --------------------------------------------------------------------------


def test_read_answers_json_with_unread_count(room, alice, bob, bob_client):
    n1 = notify(room, alice, bob)
    notify(room, alice, bob, "@bob two")

    response = bob_client.post(reverse("messaging:notification_read", args=[n1.pk]), **JSON)

    assert response.status_code == 200
    assert response.json() == {"success": True, "count": 1}
    n1.refresh_from_db()
    assert n1.is_read


def test_read_form_post_redirects_back(room, alice, bob, bob_client):
    n1 = notify(room, alice, bob)
    url = reverse("messaging:notification_read", args=[n1.pk])

    plain = bob_client.post(url)
    to_next = bob_client.post(url, {"next": n1.get_absolute_url()})
    offsite = bob_client.post(url, {"next": "https://evil.example/"})

    assert plain.status_code == 302
    assert plain["Location"] == reverse("messaging:notifications")
    assert to_next["Location"] == n1.get_absolute_url()
    assert offsite["Location"] == reverse("messaging:notifications")


def test_read_someone_elses_notification_is_404(room, alice, bob, client_for, carol):
    n1 = notify(room, alice, bob)

    response = client_for(carol).post(reverse("messaging:notification_read", args=[n1.pk]), **JSON)

    assert response.status_code == 404
    n1.refresh_from_db()
    assert not n1.is_read


def test_read_missing_notification_is_404(bob_client):
    response = bob_client.post(reverse("messaging:notification_read", args=[987654]), **JSON)
    assert response.status_code == 404


def test_read_needs_post(room, alice, bob, bob_client):
    n1 = notify(room, alice, bob)
    response = bob_client.get(reverse("messaging:notification_read", args=[n1.pk]))
    assert response.status_code == 405


def test_read_all(room, alice, bob, bob_client):
    notify(room, alice, bob)
    notify(room, alice, bob, "@bob two")

    response = bob_client.post(reverse("messaging:notification_read_all"), **JSON)
    assert response.json() == {"success": True, "count": 0}
    assert not Notification.objects.filter(is_read=False).exists()

    form = bob_client.post(reverse("messaging:notification_read_all"))
    assert form.status_code == 302


@pytest.mark.parametrize("name", ["notification_read", "notification_read_all"])
def test_post_endpoints_reject_requests_without_csrf_token(room, alice, bob, name):
    n1 = notify(room, alice, bob)
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    url = reverse(f"messaging:{name}", args=[n1.pk] if name == "notification_read" else [])

    response = client.post(url, **JSON)

    assert response.status_code == 403
    n1.refresh_from_db()
    assert not n1.is_read


def test_count(room, alice, bob, bob_client, client_for, carol):
    notify(room, alice, bob)
    notify(room, alice, bob, "@bob two")

    assert bob_client.get(reverse("messaging:notification_count")).json() == {"count": 2}
    assert client_for(carol).get(reverse("messaging:notification_count")).json() == {"count": 0}


# --- nav badge (context processor) ------------------------------------------------------


def test_every_page_shows_the_unread_count_in_the_nav(room, alice, bob, bob_client):
    notify(room, alice, bob)
    notify(room, alice, bob, "@bob two")

    html = bob_client.get(reverse("kanban:board_list")).content.decode()

    assert 'id="notification-badge" data-count="2">2</span>' in html
    assert "js/notifications.js" in html


def test_nav_badge_hidden_at_zero(bob_client):
    html = bob_client.get(reverse("kanban:board_list")).content.decode()
    assert 'bg-danger d-none" id="notification-badge" data-count="0">0</span>' in html


def test_context_processor_costs_one_query_and_only_when_rendered(rf, bob, db):
    from messaging.context_processors import notifications

    request = rf.get("/")
    request.user = bob
    with CaptureQueriesContext(connection) as ctx:
        context = notifications(request)
    assert len(ctx) == 0
    with CaptureQueriesContext(connection) as ctx:
        assert int(str(context["unread_notification_count"])) == 0
        assert not context["unread_notification_count"]
    assert len(ctx) == 1


def test_context_processor_anonymous_gets_nothing(rf):
    from django.contrib.auth.models import AnonymousUser

    from messaging.context_processors import notifications

    request = rf.get("/")
    request.user = AnonymousUser()
    assert notifications(request) == {}


# --- mention autocomplete ---------------------------------------------------------------


def mentions(client, **params):
    return client.get(reverse("messaging:mentions"), params)


@pytest.fixture
def crowd(room, alice):
    """15 board members named b00..b14 (all start with "b"), 3 of them in the room."""
    users = [UserFactory(username=f"b{i:02d}", email=f"b{i:02d}@corp.example") for i in range(15)]
    add_board_members(room.board, *users)
    room.members.add(*users[:3])
    return users


def test_mentions_board_scope_prefix_match_max_10(alice_client, room, crowd):
    response = mentions(alice_client, q="b", board=room.board.pk)

    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 10
    assert results[0] == {"username": "b00", "display_name": "b00"}
    assert [r["username"] for r in results] == [
        "b00",
        "b01",
        "b02",
        "b03",
        "b04",
        "b05",
        "b06",
        "b07",
        "b08",
        "b09",
    ]


def test_mentions_room_scope_is_room_members_only(alice_client, room, crowd, bob):
    results = mentions(alice_client, q="b", room=room.pk).json()["results"]
    assert [r["username"] for r in results] == ["b00", "b01", "b02", "bob"]


def test_mentions_leave_out_the_person_typing(alice_client, client_for, room, bob):
    assert mentions(alice_client, q="", room=room.pk).json()["results"] == [
        {"username": "bob", "display_name": "Bob B."}
    ]
    assert [
        r["username"] for r in mentions(client_for(bob), q="", room=room.pk).json()["results"]
    ] == ["alice"]


def test_mentions_match_display_name(alice_client, room, bob):
    results = mentions(alice_client, q="bob b", board=room.board.pk).json()["results"]
    assert results == [{"username": "bob", "display_name": "Bob B."}]


def test_mentions_only_members_never_outsiders(alice_client, room, db):
    UserFactory(username="bobcat")  # not on the board
    results = mentions(alice_client, q="bob", board=room.board.pk).json()["results"]
    assert [r["username"] for r in results] == ["bob"]


def test_mentions_never_expose_or_match_emails(alice_client, room, crowd):
    response = mentions(alice_client, q="", board=room.board.pk)
    assert "@" not in response.content.decode().replace('"@', "")
    assert "corp.example" not in response.content.decode()
    assert mentions(alice_client, q="corp", board=room.board.pk).json() == {"results": []}


def test_mentions_at_sign_prefix_is_ignored(alice_client, room, bob):
    results = mentions(alice_client, q="@bo", board=room.board.pk).json()["results"]
    assert [r["username"] for r in results] == ["bob"]


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"q": "b"}, id="neither_board_nor_room"),
        pytest.param({"q": "b", "board": "abc"}, id="board_not_a_number"),
        pytest.param({"q": "b", "room": "1.5"}, id="room_not_an_integer"),
        pytest.param({"q": "b", "board": "-3"}, id="board_negative"),
        pytest.param({"q": "b", "board": "1", "room": "1"}, id="both_board_and_room"),
    ],
)
def test_mentions_bad_query_is_400_json(alice_client, db, params):
    response = mentions(alice_client, **params)
    assert response.status_code == 400
    assert "error" in response.json()


def test_mentions_for_a_board_you_are_not_in_is_404(client_for, room, carol):
    assert mentions(client_for(carol), q="b", board=room.board.pk).status_code == 404


def test_mentions_for_a_room_you_are_not_in_is_404(client_for, room, carol):
    add_board_members(room.board, carol)  # on the board, but not in the room
    assert mentions(client_for(carol), q="b", room=room.pk).status_code == 404


def test_mentions_for_a_missing_board_is_404(alice_client, db):
    assert mentions(alice_client, q="b", board=987654).status_code == 404


# --- delivery does not depend on the broker ---------------------------------------------


def test_http_send_with_dead_broker_succeeds_fast_and_sweep_notifies_later(
    room, alice, bob, alice_client, django_capture_on_commit_callbacks
):
    from kanban_board.celery import app as celery_app

    conf = celery_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager = False
    conf.broker_url = "redis://127.0.0.1:1/0"
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    try:
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            response = alice_client.post(
                reverse("messaging:room_send", args=[room.pk]), {"content": "@bob look"}, **JSON
            )
        elapsed = time.monotonic() - started
    finally:
        conf.task_always_eager, conf.broker_url = saved
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    assert response.status_code == 201, response.content
    assert elapsed < 3, f"send took {elapsed:.2f}s with a dead broker"
    assert not Notification.objects.exists()
    message = ChatMessage.objects.get()
    assert message.mentions_notified_at is None

    assert services.sweep_missed_mentions(older_than_seconds=0) == 1
    assert Notification.objects.get().recipient == bob


# --- opening the page of a mention reads it ---------------------------------------------


def test_opening_the_room_reads_its_notifications_and_the_nav_shows_it(
    room, alice, bob, bob_client
):
    notify(room, alice, bob)
    other_room = ChatRoomFactory(board=room.board, created_by=alice, name="other", members=[bob])
    kept = notify(other_room, alice, bob, "@bob elsewhere")

    response = bob_client.get(reverse("messaging:room_detail", args=[room.pk]))

    assert response.status_code == 200
    assert list(Notification.objects.filter(is_read=False)) == [kept]
    assert 'id="notification-badge" data-count="1">1</span>' in response.content.decode()


@pytest.mark.parametrize("page", ["kanban:task_detail", "messaging:task_comments"])
def test_opening_the_task_thread_reads_its_comment_notifications(
    page, room, alice, bob, bob_client
):
    from tests.factories import ColumnFactory, TaskFactory, TaskThreadCommentFactory

    task = TaskFactory(column=ColumnFactory(board=room.board))
    comment = TaskThreadCommentFactory(task=task, author=alice, content="@bob see task")
    comment.mentioned_users.add(bob)
    services.create_mention_notifications(kind="comment", object_id=comment.pk)
    kept = notify(room, alice, bob)

    assert bob_client.get(reverse(page, args=[task.pk])).status_code == 200

    assert list(Notification.objects.filter(is_read=False)) == [kept]

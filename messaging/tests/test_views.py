"""HTTP interface: access rules (one test each), posting with JSON or redirect, history
paging and its parameter errors, room creation and membership, query-count guards."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from messaging.models import ChatMessage, ChatRoom, TaskThreadComment
from messaging.services.posting import post_chat_message, post_task_comment
from tests.factories import (
    ChatMessageFactory,
    ChatRoomFactory,
    TaskThreadCommentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


def url(name: str, *args) -> str:
    return reverse(f"messaging:{name}", args=args)


@pytest.fixture
def bob_client(client_for, bob):
    return client_for(bob)


# --- access: strangers and non-members see nothing ----------------------------------------


@pytest.fixture
def stranger(client_for, dave):
    return client_for(dave)


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "room_detail"),
        ("post", "room_send"),
        ("get", "room_history"),
        ("post", "room_members"),
    ],
)
def test_stranger_gets_404_on_room_endpoints(stranger, room, method, name):
    response = getattr(stranger, method)(url(name, room.pk), {"content": "hi", "user": "dave"})
    assert response.status_code == 404
    assert not ChatMessage.objects.exists()


@pytest.mark.parametrize(
    ("method", "name"),
    [("get", "task_comments"), ("post", "task_comments"), ("get", "task_comment_history")],
)
def test_stranger_gets_404_on_task_thread_endpoints(stranger, task, method, name):
    response = getattr(stranger, method)(url(name, task.pk), {"content": "hi"})
    assert response.status_code == 404
    assert not TaskThreadComment.objects.exists()


@pytest.mark.parametrize("name", ["room_list", "room_create"])
def test_stranger_gets_404_on_board_room_pages(stranger, board, name):
    assert stranger.get(url(name, board.pk)).status_code == 404


@pytest.mark.parametrize(
    ("method", "name"), [("get", "room_detail"), ("post", "room_send"), ("get", "room_history")]
)
def test_board_member_outside_the_room_gets_404(client_for, carol, room, method, name):
    response = getattr(client_for(carol), method)(url(name, room.pk), {"content": "hi"})
    assert response.status_code == 404


def test_missing_room_is_the_same_404(bob_client):
    assert bob_client.get(url("room_detail", 999_999)).status_code == 404


def test_anonymous_is_sent_to_log_in(client, room):
    response = client.get(url("room_detail", room.pk))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


# --- room page --------------------------------------------------------------------------


def test_room_page_renders_messages_escaped_and_the_dom_contract(bob_client, room, alice, bob):
    post_chat_message(room=room, author=alice, content="<script>alert(1)</script> @bob")

    response = bob_client.get(url("room_detail", room.pk))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'id="chat-app"' in html
    assert f'data-ws-path="/ws/chat-room/{room.pk}/"' in html
    assert 'class="chat-msg mentions-me"' in html
    assert 'id="chat-message-template"' in html
    assert f'<li data-user-id="{bob.pk}" data-username="bob"' in html
    assert 'data-has-more="false"' in html


def test_room_page_shows_the_latest_page_and_offers_older(bob_client, room, settings):
    settings.CHAT_PAGE_SIZE = 3
    messages = [ChatMessageFactory(chat_room=room) for _ in range(5)]

    response = bob_client.get(url("room_detail", room.pk))

    shown = [m.pk for m in response.context["page"].items]
    assert shown == [m.pk for m in messages[-3:]]
    assert 'data-has-more="true"' in response.content.decode()


def test_room_page_prefills_current_typists(bob_client, room, alice):
    from messaging.services.typing import record_typing

    record_typing(room=room, user=alice)
    html = bob_client.get(url("room_detail", room.pk)).content.decode()
    assert f'class="typist" data-user-id="{alice.pk}"' in html
    assert "is typing" in html


# --- sending ----------------------------------------------------------------------------


def test_send_as_json_returns_201_with_the_payload(bob_client, room, bob):
    response = bob_client.post(url("room_send", room.pk), {"content": "Hi @alice"}, **JSON)

    assert response.status_code == 201
    data = response.json()
    message = ChatMessage.objects.get()
    assert data["type"] == "chat_message"
    assert data["message_id"] == message.pk
    assert data["username"] == "bob"
    assert data["user_id"] == bob.pk
    assert data["message"] == "Hi @alice"
    assert data["mentioned_users"] == ["alice"]
    assert data["timestamp"].endswith("Z")


def test_send_with_x_requested_with_gets_json(bob_client, room):
    response = bob_client.post(
        url("room_send", room.pk), {"content": "hi"}, HTTP_X_REQUESTED_WITH="fetch"
    )
    assert response.status_code == 201
    assert response.json()["message"] == "hi"


def test_plain_form_post_redirects_to_the_room(bob_client, room):
    response = bob_client.post(url("room_send", room.pk), {"content": "no js here"})

    message = ChatMessage.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{url('room_detail', room.pk)}#message-{message.pk}"


def test_send_is_idempotent_per_client_id(bob_client, room):
    data = {"content": "once", "client_id": "abc"}
    first = bob_client.post(url("room_send", room.pk), data, **JSON).json()
    second = bob_client.post(url("room_send", room.pk), data, **JSON).json()
    assert first["message_id"] == second["message_id"]
    assert ChatMessage.objects.count() == 1


@pytest.mark.parametrize("content", ["", "   "])
def test_empty_send_is_a_json_400(bob_client, room, content):
    response = bob_client.post(url("room_send", room.pk), {"content": content}, **JSON)
    assert response.status_code == 400
    assert "empty" in response.json()["error"]
    assert not ChatMessage.objects.exists()


def test_oversized_send_is_a_json_400(bob_client, room, settings):
    content = "x" * (settings.MESSAGE_MAX_LENGTH + 1)
    response = bob_client.post(url("room_send", room.pk), {"content": content}, **JSON)
    assert response.status_code == 400
    assert "4000" in response.json()["error"]


def test_failed_plain_post_re_renders_the_room_with_the_error(bob_client, room):
    response = bob_client.post(url("room_send", room.pk), {"content": "  "})
    assert response.status_code == 400
    assert "empty" in response.content.decode()
    assert 'id="chat-form"' in response.content.decode()


def test_send_requires_post(bob_client, room):
    assert bob_client.get(url("room_send", room.pk)).status_code == 405


# --- history ----------------------------------------------------------------------------


@pytest.fixture
def history(room) -> list[ChatMessage]:
    return [ChatMessageFactory(chat_room=room, content=f"m{i}") for i in range(7)]


def test_history_defaults_to_the_latest_messages_oldest_first(bob_client, room, history):
    data = bob_client.get(url("room_history", room.pk)).json()
    assert [m["message_id"] for m in data["messages"]] == [m.pk for m in history]
    assert data["has_more"] is False
    assert data["messages"][0]["message"] == "m0"


def test_history_before_with_limit(bob_client, room, history):
    data = bob_client.get(url("room_history", room.pk), {"before": history[5].pk, "limit": 2})
    body = data.json()
    assert [m["message_id"] for m in body["messages"]] == [history[3].pk, history[4].pk]
    assert body["has_more"] is True


def test_history_after(bob_client, room, history):
    body = bob_client.get(url("room_history", room.pk), {"after": history[4].pk}).json()
    assert [m["message_id"] for m in body["messages"]] == [history[5].pk, history[6].pk]
    assert body["has_more"] is False


@pytest.mark.parametrize(
    "params",
    [
        {"before": "abc"},
        {"after": "1.5x"},
        {"before": "-3"},
        {"after": "-1"},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "-5"},
        {"before": "5", "after": "2"},
    ],
)
def test_bad_history_params_are_a_json_400(bob_client, room, params):
    response = bob_client.get(url("room_history", room.pk), params)
    assert response.status_code == 400
    assert response.json()["error"]


def test_comment_history_pages_with_the_same_rules(client_for, bob, task):
    comments = [TaskThreadCommentFactory(task=task) for _ in range(4)]
    c = client_for(bob)
    body = c.get(url("task_comment_history", task.pk), {"before": comments[3].pk, "limit": 2})
    data = body.json()
    assert [x["comment_id"] for x in data["comments"]] == [comments[1].pk, comments[2].pk]
    assert data["has_more"] is True
    assert data["comments"][0]["type"] == "new_comment"
    assert c.get(url("task_comment_history", task.pk), {"limit": "x"}).status_code == 400


# --- room list, creation, members -------------------------------------------------------


def test_room_list_shows_my_rooms_with_counts(client_for, alice, board, room):
    ChatRoomFactory(board=board, name="not-mine", created_by=UserFactory())
    response = client_for(alice).get(url("room_list", board.pk))
    html = response.content.decode()
    assert "#general" in html
    assert "2 members" in html
    assert "not-mine" not in html
    assert url("room_create", board.pk) in html


def test_create_room_offers_only_board_members(client_for, alice, bob, carol, dave, board):
    response = client_for(alice).get(url("room_create", board.pk))
    choices = {user.pk for user in response.context["form"].fields["members"].queryset}
    assert choices == {bob.pk, carol.pk}  # alice is added anyway; dave is not on the board


def test_create_room_and_land_in_it(client_for, alice, carol, board):
    response = client_for(alice).post(
        url("room_create", board.pk),
        {"name": "design", "description": "pixels", "members": [carol.pk]},
    )
    room = ChatRoom.objects.get(name="design")
    assert response.status_code == 302
    assert response["Location"] == room.get_absolute_url()
    assert set(room.members.all()) == {alice, carol}


def test_duplicate_room_name_is_a_form_error(client_for, alice, board, room):
    response = client_for(alice).post(url("room_create", board.pk), {"name": "GENERAL"})
    assert response.status_code == 400
    assert response.context["form"].errors["name"]
    assert ChatRoom.objects.count() == 1


def test_non_board_member_cannot_be_picked(client_for, alice, dave, board):
    response = client_for(alice).post(
        url("room_create", board.pk), {"name": "x", "members": [dave.pk]}
    )
    assert response.status_code == 400
    assert "members" in response.context["form"].errors


def test_room_creator_adds_a_member_by_username(client_for, alice, carol, room):
    response = client_for(alice).post(
        url("room_members", room.pk), {"action": "add", "user": "Carol"}
    )
    assert response.status_code == 302
    assert room.members.filter(pk=carol.pk).exists()


def test_room_creator_removes_a_member_who_then_gets_404(client_for, alice, bob, room):
    response = client_for(alice).post(
        url("room_members", room.pk), {"action": "remove", "user": bob.pk}, **JSON
    )
    assert response.status_code == 200
    assert response.json()["changed"] is True
    assert client_for(bob).get(url("room_detail", room.pk)).status_code == 404


def test_plain_member_cannot_manage_members(bob_client, carol, room):
    response = bob_client.post(
        url("room_members", room.pk), {"action": "add", "user": carol.pk}, **JSON
    )
    assert response.status_code == 403
    assert not room.members.filter(pk=carol.pk).exists()


def test_adding_a_stranger_is_a_json_400(client_for, alice, dave, room):
    response = client_for(alice).post(
        url("room_members", room.pk), {"action": "add", "user": "dave"}, **JSON
    )
    assert response.status_code == 400
    assert response.json()["error"]


# --- task threads -----------------------------------------------------------------------


def test_thread_page_renders_the_partial(client_for, bob, task, alice):
    post_task_comment(task=task, author=alice, content="<b>bold</b> @bob")
    html = client_for(bob).get(url("task_comments", task.pk)).content.decode()
    assert 'id="comment-thread"' in html
    assert f'data-ws-path="/ws/task-comments/{task.pk}/"' in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert 'class="chat-msg mentions-me"' in html


def test_kanban_task_page_includes_the_live_thread(client_for, bob, task, alice):
    comment = post_task_comment(task=task, author=alice, content="on the task page")
    html = client_for(bob).get(task.get_absolute_url()).content.decode()
    assert f'id="comment-{comment.pk}"' in html
    assert "js/comments.js" in html


def test_comment_as_json_returns_201(client_for, bob, task):
    response = client_for(bob).post(
        url("task_comments", task.pk), {"content": "LGTM @carol"}, **JSON
    )
    assert response.status_code == 201
    data = response.json()
    assert data["type"] == "new_comment"
    assert data["comment"] == "LGTM @carol"
    assert data["mentioned_users"] == ["carol"]


def test_plain_comment_post_redirects_to_the_page_it_came_from(client_for, bob, task):
    response = client_for(bob).post(
        url("task_comments", task.pk), {"content": "hi", "next": task.get_absolute_url()}
    )
    comment = TaskThreadComment.objects.get()
    assert response["Location"] == f"{task.get_absolute_url()}#comment-{comment.pk}"


def test_comment_redirect_ignores_foreign_next(client_for, bob, task):
    response = client_for(bob).post(
        url("task_comments", task.pk), {"content": "hi", "next": "https://evil.example/"}
    )
    assert response["Location"].startswith(url("task_comments", task.pk))


def test_empty_comment_errors(client_for, bob, task):
    c = client_for(bob)
    assert c.post(url("task_comments", task.pk), {"content": ""}, **JSON).status_code == 400
    response = c.post(url("task_comments", task.pk), {"content": " "})
    assert response.status_code == 400
    assert "empty" in response.content.decode()


# --- inbox ------------------------------------------------------------------------------


def test_inbox_lists_my_rooms_with_the_last_message(bob_client, room, alice):
    post_chat_message(room=room, author=alice, content="see you at <3")
    html = bob_client.get(url("inbox")).content.decode()
    assert "#general" in html
    assert "see you at &lt;3" in html
    assert "Alice A." in html


# --- query-count guards -----------------------------------------------------------------


def queries_for(client, path: str, **extra) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, **extra)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def grow_room(room, authors, n: int) -> None:
    for i in range(n):
        author = authors[i % len(authors)]
        post_chat_message(room=room, author=author, content=f"msg {i} @{authors[0].username}")


def test_room_page_queries_stay_constant(
    bob_client, room, alice, bob, django_assert_max_num_queries
):
    grow_room(room, [alice, bob], 2)
    baseline = queries_for(bob_client, url("room_detail", room.pk))
    grow_room(room, [alice, bob], 30)
    with django_assert_max_num_queries(baseline):
        bob_client.get(url("room_detail", room.pk))


def test_history_queries_stay_constant(bob_client, room, alice, bob, django_assert_max_num_queries):
    grow_room(room, [alice, bob], 2)
    baseline = queries_for(bob_client, url("room_history", room.pk), **JSON)
    grow_room(room, [bob, alice], 40)
    with django_assert_max_num_queries(baseline):
        bob_client.get(url("room_history", room.pk), {"limit": 100})


def test_comment_history_queries_stay_constant(
    client_for, task, alice, bob, django_assert_max_num_queries
):
    c = client_for(bob)
    post_task_comment(task=task, author=alice, content="@bob one")
    baseline = queries_for(c, url("task_comment_history", task.pk))
    for i in range(30):
        post_task_comment(task=task, author=[alice, bob][i % 2], content=f"@carol {i}")
    with django_assert_max_num_queries(baseline):
        c.get(url("task_comment_history", task.pk), {"limit": 100})


def test_room_list_and_inbox_queries_stay_constant(
    client_for, board, room, alice, bob, carol, django_assert_max_num_queries
):
    c = client_for(alice)
    grow_room(room, [alice, bob], 1)
    list_baseline = queries_for(c, url("room_list", board.pk))
    inbox_baseline = queries_for(c, url("inbox"))
    for i in range(12):
        extra = ChatRoomFactory(board=board, name=f"r{i}", created_by=alice, members=[bob, carol])
        grow_room(extra, [bob, carol], 2)
    with django_assert_max_num_queries(list_baseline):
        c.get(url("room_list", board.pk))
    with django_assert_max_num_queries(inbox_baseline):
        c.get(url("inbox"))

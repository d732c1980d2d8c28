"""What the API does beyond who may call it: the shapes the issue fixes, paging, threads,
errors, throttling, and that an API post goes through the page's own write path (socket
broadcast, mention notification, audit)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from accounts.models import AuditLog
from messaging import realtime
from messaging.models import ChatMessage, ChatRoom, Notification

from .conftest import Cast

MESSAGE_FIELDS = {
    "id",
    "room_id",
    "sender",
    "content",
    "html",
    "parent_id",
    "attachments",
    "reactions",
    "is_edited",
    "is_deleted",
    "created_at",
    "edited_at",
}


def test_a_message_has_exactly_the_issues_fields(cast: Cast):
    response = cast.client("member").get(f"/api/v1/chat/messages/{cast.message.pk}/")
    body = response.json()
    assert set(body) == MESSAGE_FIELDS
    assert body["id"] == cast.message.pk
    assert body["room_id"] == cast.room.pk
    assert body["sender"] == {
        "id": cast.users["author"].pk,
        "username": "bob",
        "display_name": "Bob B.",
    }
    assert body["content"] == "hello from bob"
    assert body["html"] == "<p>hello from bob</p>"
    assert body["parent_id"] is None
    assert body["attachments"] == [] and body["reactions"] == []
    assert body["is_edited"] is False and body["is_deleted"] is False
    assert body["created_at"].endswith("Z") and body["edited_at"] is None


def test_post_broadcasts_notifies_and_answers_the_message(
    cast: Cast, listen, django_capture_on_commit_callbacks
):
    room_socket = listen(realtime.room_group(cast.room.pk))
    with django_capture_on_commit_callbacks(execute=True):
        response = cast.client("author").post(
            f"/api/v1/chat/rooms/{cast.room.pk}/messages/",
            {"content": "ping @carol **now**"},
            format="json",
        )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == MESSAGE_FIELDS
    assert body["html"].count("<strong>now</strong>") == 1
    [frame] = [p for p in room_socket.payloads() if p["type"] == "chat_message"]
    assert frame["message_id"] == body["id"]
    assert frame["message"] == "ping @carol **now**"
    assert frame["mentioned_users"] == ["carol"]
    notification = Notification.objects.get(recipient=cast.users["member"])
    assert notification.chat_message_id == body["id"]


def test_moderator_deletion_over_the_api_is_audited_like_the_pages(cast: Cast):
    response = cast.client("moderator").delete(f"/api/v1/chat/messages/{cast.message.pk}/")
    assert response.status_code == 204
    entry = AuditLog.objects.get(action=AuditLog.Action.MESSAGE_DELETED)
    assert entry.actor == cast.users["moderator"]
    tombstone = cast.client("author").get(f"/api/v1/chat/messages/{cast.message.pk}/").json()
    assert tombstone["is_deleted"] is True and tombstone["content"] == ""


def test_edit_answers_the_edited_message(cast: Cast):
    response = cast.client("author").patch(
        f"/api/v1/chat/messages/{cast.message.pk}/", {"content": "better"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["content"] == "better"
    assert response.json()["is_edited"] is True
    assert response.json()["edited_at"] is not None


def test_messages_page_newest_first_with_a_cursor(cast: Cast):
    for n in range(5):
        ChatMessage.objects.create(
            chat_room=cast.room, author=cast.users["author"], content=f"m{n}"
        )
    client = cast.client("member")
    first = client.get(f"/api/v1/chat/rooms/{cast.room.pk}/messages/?limit=3").json()
    assert [m["content"] for m in first["results"]] == ["m4", "m3", "m2"]
    assert first["previous"] is None
    second = client.get(first["next"]).json()
    assert [m["content"] for m in second["results"]] == ["m1", "m0", "@bob look"]
    third = client.get(second["next"]).json()
    assert [m["content"] for m in third["results"]] == ["hello from bob"]
    assert third["next"] is None


def test_thread_replies_with_parent(cast: Cast):
    client = cast.client("member")
    url = f"/api/v1/chat/rooms/{cast.room.pk}/messages/"
    reply = client.post(url, {"content": "in the thread", "parent": cast.message.pk}, format="json")
    assert reply.status_code == 201
    assert reply.json()["parent_id"] == cast.message.pk
    thread = client.get(f"{url}?parent={cast.message.pk}").json()["results"]
    assert [m["content"] for m in thread] == ["in the thread"]
    top = client.get(url).json()["results"]
    assert "in the thread" not in [m["content"] for m in top]


@pytest.mark.parametrize("parent", ["abc", "0", "987654321"])
def test_bad_or_foreign_parent(cast: Cast, parent):
    response = cast.client("member").get(
        f"/api/v1/chat/rooms/{cast.room.pk}/messages/?parent={parent}"
    )
    assert response.status_code == (404 if parent == "987654321" else 400)
    assert "parent" in response.json() or "detail" in response.json()


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"content": "   "}, "detail"),
        ({"content": "x" * 4001}, "detail"),
        ({"content": "hi", "parent": "x"}, "parent"),
        ({"content": "hi", "attachment_ids": [1, "x"]}, "attachment_ids"),
    ],
)
def test_invalid_messages_are_400_json_and_save_nothing(cast: Cast, body, key):
    count = ChatMessage.objects.count()
    response = cast.client("member").post(
        f"/api/v1/chat/rooms/{cast.room.pk}/messages/", body, format="json"
    )
    assert response.status_code == 400
    assert key in response.json()
    assert ChatMessage.objects.count() == count


def test_malformed_json_is_400(cast: Cast):
    response = cast.client("member").post(
        f"/api/v1/chat/rooms/{cast.room.pk}/messages/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "detail" in response.json()


def test_unknown_method_is_405_json(cast: Cast):
    response = cast.client("member").put(f"/api/v1/chat/messages/{cast.message.pk}/", {})
    assert response.status_code == 405
    assert "detail" in response.json()


def test_direct_room_is_created_once(cast: Cast):
    client = cast.client("author")
    first = client.post(
        "/api/v1/chat/rooms/", {"type": "direct", "members": ["erin"]}, format="json"
    )
    assert first.status_code == 201
    assert first.json()["type"] == "direct"
    assert {m["username"] for m in first.json()["members"]} == {"bob", "erin"}
    again = client.post(
        "/api/v1/chat/rooms/", {"type": "direct", "members": ["@erin"]}, format="json"
    )
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    outsider = client.post(
        "/api/v1/chat/rooms/", {"type": "direct", "members": ["dave"]}, format="json"
    )
    assert outsider.status_code == 400
    assert ChatRoom.objects.filter(room_type="direct").count() == 1


def test_group_room_with_a_non_member_is_400(cast: Cast):
    response = cast.client("moderator").post(
        "/api/v1/chat/rooms/",
        {"type": "group", "board": cast.board.pk, "name": "x", "members": ["erin"]},
        format="json",
    )
    assert response.status_code == 400
    assert "members" in response.json()


def test_duplicate_room_name_is_a_field_error(cast: Cast):
    response = cast.client("member").post(
        "/api/v1/chat/rooms/",
        {"type": "group", "board": cast.board.pk, "name": "GENERAL"},
        format="json",
    )
    assert response.status_code == 400
    assert "name" in response.json()


def test_room_list_shows_only_mine(cast: Cast):
    assert [r["name"] for r in cast.client("member").get("/api/v1/chat/rooms/").json()] == [
        "general"
    ]
    assert cast.client("stranger").get("/api/v1/chat/rooms/").json() == []


def test_task_move_into_another_boards_column_is_404(cast: Cast):
    daves_column = cast.users["other_org"].boards.get().columns.create(name="D", position=0)
    response = cast.client("author").post(
        f"/api/v1/tasks/{cast.task.pk}/move/", {"column": daves_column.pk}, format="json"
    )
    assert response.status_code == 404


def test_task_create_with_an_outsider_assignee_is_400(cast: Cast):
    response = cast.client("author").post(
        f"/api/v1/boards/{cast.board.pk}/tasks/",
        {"column": cast.column.pk, "title": "x", "assignee": "dave"},
        format="json",
    )
    assert response.status_code == 400
    assert "assignee" in response.json()


def test_column_with_tasks_cannot_be_deleted(cast: Cast):
    response = cast.client("author").delete(f"/api/v1/columns/{cast.column.pk}/")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_notifications_list_count_and_read(cast: Cast):
    client = cast.client("author")
    assert client.get("/api/v1/notifications/count/").json() == {"count": 1}
    listed = client.get("/api/v1/notifications/?unread=true").json()["results"]
    assert [n["id"] for n in listed] == [cast.notification.pk]
    assert listed[0]["sender"]["username"] == "alice"
    assert listed[0]["type"] == "mention"
    read = client.post(f"/api/v1/notifications/{cast.notification.pk}/read/")
    assert read.json() == {"count": 0}
    assert client.get("/api/v1/notifications/?unread=true").json()["results"] == []


def test_search_finds_only_what_the_caller_reads(cast: Cast):
    found = cast.client("member").get("/api/v1/search/?q=hello").json()
    assert [r["id"] for r in found["results"] if r["type"] == "message"] == [cast.message.pk]
    assert cast.client("stranger").get("/api/v1/search/?q=hello").json()["results"] == []
    bad = cast.client("member").get("/api/v1/search/?q=colour:red")
    assert bad.status_code == 400 and "detail" in bad.json()


def test_unread_counts_per_room(cast: Cast):
    body = cast.client("member").get("/api/v1/unread/").json()
    assert set(body) == {"rooms", "total"}
    [row] = [r for r in body["rooms"] if r["room_id"] == cast.room.pk]
    assert row["unread"] >= 1
    # The issue's fields, plus the read pointer and the mute the pages use too.
    assert {"room_id", "unread", "mentions", "last_message_id"} <= set(row)
    assert body["total"] >= row["unread"]


# --- throttling -----------------------------------------------------------------------------


@override_settings(API_THROTTLE_TOKEN="3/min", API_THROTTLE_USER="")
def test_token_throttle_is_429_with_retry_after(cast: Cast):
    client = cast.client("member")
    statuses = [client.get("/api/v1/boards/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/boards/")
    assert int(response["Retry-After"]) > 0
    assert "detail" in response.json()
    # Another token of someone else is counted apart.
    assert cast.client("author").get("/api/v1/boards/").status_code == 200


@override_settings(API_THROTTLE_USER="2/min", API_THROTTLE_TOKEN="")
def test_user_throttle_counts_every_token_of_the_user(cast: Cast):
    assert cast.client("author").get("/api/v1/boards/").status_code == 200
    assert cast.client("read_token").get("/api/v1/boards/").status_code == 200
    response = cast.client("author").get("/api/v1/boards/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_posting_rate_limit_is_the_pages(cast: Cast, settings):
    settings.CHAT_RATE_LIMIT = "2/60s"
    client = cast.client("member")
    url = f"/api/v1/chat/rooms/{cast.room.pk}/messages/"
    codes = [client.post(url, {"content": f"n{i}"}, format="json").status_code for i in range(3)]
    assert codes == [201, 201, 429]
    assert int(client.post(url, {"content": "x"}, format="json")["Retry-After"]) > 0


# --- query counts: list endpoints cost the same whatever their length -------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/chat/rooms/",
        "/api/v1/chat/rooms/{room}/messages/",
        "/api/v1/boards/",
        "/api/v1/boards/{board}/",
        "/api/v1/boards/{board}/tasks/",
        "/api/v1/tasks/{task}/comments/",
        "/api/v1/notifications/",
    ],
)
def test_list_endpoints_do_not_grow_queries_with_rows(
    cast: Cast, url, django_assert_max_num_queries
):
    from kanban.models import Task
    from messaging.models import TaskThreadComment

    bob, alice = cast.users["author"], cast.users["moderator"]
    for n in range(20):
        ChatMessage.objects.create(chat_room=cast.room, author=bob, content=f"m{n}")
        Task.objects.create(column=cast.column, title=f"t{n}", position=n + 1, created_by=bob)
        TaskThreadComment.objects.create(task=cast.task, author=bob, content=f"c{n}")
        Notification.objects.create(recipient=bob, sender=alice, text=f"n{n}", task=cast.task)
    path = url.format(room=cast.room.pk, board=cast.board.pk, task=cast.task.pk)
    client = cast.client("author")
    with django_assert_max_num_queries(15):
        assert client.get(path).status_code == 200


def test_the_browser_session_works_with_csrf(cast: Cast):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.users["member"])
    client.get("/accounts/login/")
    csrf = client.cookies["csrftoken"].value
    url = f"/api/v1/chat/rooms/{cast.room.pk}/messages/"
    assert client.get(url).status_code == 200
    body = {"content": "from the browser"}
    refused = client.post(url, body, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    sent = client.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    assert sent.status_code == 201
    assert sent.json()["sender"]["username"] == "carol"


def test_a_deactivated_users_session_is_401(cast: Cast):
    from django.test import Client

    client = Client()
    client.force_login(cast.users["member"])
    assert client.get("/api/v1/boards/").status_code == 200
    cast.users["member"].is_active = False
    cast.users["member"].save(update_fields=["is_active"])
    assert client.get("/api/v1/boards/").status_code == 401

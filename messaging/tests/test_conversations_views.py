"""HTTP interface of issue 10: reply via send, edit/delete/react endpoints (JSON and form),
access (404 for what you cannot read, 403 for someone else's post), history ?parent= and
?since=, edit history, and query-count guards."""

from __future__ import annotations

import pytest
from django.urls import reverse

from messaging.models import ChatMessage
from messaging.services.editing import delete_chat_message, edit_chat_message
from messaging.services.posting import post_chat_message, post_task_comment
from messaging.services.reactions import toggle_reaction
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


def url(name: str, *args) -> str:
    return reverse(f"messaging:{name}", args=args)


@pytest.fixture
def alice_c(client_for, alice):
    return client_for(alice)


@pytest.fixture
def bob_c(client_for, bob):
    return client_for(bob)


@pytest.fixture
def message(room, alice):
    return post_chat_message(room=room, author=alice, content="hello **world**")


# --- replies over HTTP ----------------------------------------------------------------------


def test_send_with_parent_id_makes_a_reply(bob_c, room, message):
    response = bob_c.post(
        url("room_send", room.pk), {"content": "reply", "parent_id": message.pk}, **JSON
    )
    assert response.status_code == 201
    assert response.json()["parent_id"] == message.pk
    message.refresh_from_db()
    assert message.reply_count == 1


def test_send_with_a_foreign_parent_is_400_and_saves_nothing(bob_c, room, board, alice):
    from tests.factories import ChatRoomFactory

    other = ChatRoomFactory(board=board, created_by=alice)
    foreign = post_chat_message(room=other, author=alice, content="x")
    response = bob_c.post(
        url("room_send", room.pk), {"content": "reply", "parent_id": foreign.pk}, **JSON
    )
    assert response.status_code == 400
    assert "not in this room" in response.json()["error"]
    assert ChatMessage.objects.filter(chat_room=room).count() == 0


def test_send_replying_to_a_deleted_message_is_400_and_saves_nothing(alice_c, bob_c, room, message):
    alice_c.post(url("message_delete", message.pk), **JSON)
    response = bob_c.post(
        url("room_send", room.pk), {"content": "too late", "parent_id": message.pk}, **JSON
    )
    assert response.status_code == 400
    assert response.json() == {"error": "The message you replied to was deleted."}
    assert ChatMessage.objects.filter(chat_room=room).count() == 1


# --- edit ------------------------------------------------------------------------------------


def test_edit_answers_the_edited_item(alice_c, message):
    response = alice_c.post(url("message_edit", message.pk), {"content": "fixed"}, **JSON)
    assert response.status_code == 200
    item = response.json()
    assert item["message"] == "fixed"
    assert item["html"] == "<p>fixed</p>"
    assert item["is_edited"] is True and item["is_deleted"] is False


def test_edit_someone_elses_message_is_403(bob_c, message):
    response = bob_c.post(url("message_edit", message.pk), {"content": "mine now"}, **JSON)
    assert response.status_code == 403
    assert response.json() == {"error": "You can only edit your own messages."}


@pytest.mark.parametrize("name", ["message_edit", "message_delete", "message_react"])
def test_a_message_you_cannot_read_is_404(client_for, dave, message, name):
    response = client_for(dave).post(url(name, message.pk), {"content": "x", "emoji": "👍"}, **JSON)
    assert response.status_code == 404
    message.refresh_from_db()
    assert message.content == "hello **world**" and not message.is_deleted


def test_edit_history_endpoint_lists_versions(alice_c, bob_c, message, alice):
    edit_chat_message(message=message, editor=alice, content="v2")
    versions = bob_c.get(url("message_edits", message.pk)).json()["versions"]
    assert [v["content"] for v in versions] == ["hello **world**", "v2"]
    assert versions[-1]["replaced_at"] is None


def test_edit_by_form_post_redirects_to_the_message(alice_c, message):
    response = alice_c.post(url("message_edit", message.pk), {"content": "plain form"})
    assert response.status_code == 302
    assert response["Location"].endswith(f"#message-{message.pk}")


# --- delete ----------------------------------------------------------------------------------


def test_delete_answers_a_tombstone_and_text_leaves_history_and_page(alice_c, bob_c, room, message):
    response = alice_c.post(url("message_delete", message.pk), **JSON)
    assert response.status_code == 200
    item = response.json()
    assert (item["is_deleted"], item["message"], item["html"]) == (True, "", "")
    history = bob_c.get(url("room_history", room.pk)).json()["messages"]
    assert [(m["message_id"], m["is_deleted"], m["message"]) for m in history] == [
        (message.pk, True, "")
    ]
    page = bob_c.get(url("room_detail", room.pk)).content.decode()
    assert "world" not in page and "message deleted" in page


def test_a_deleted_root_keeps_its_thread_readable(alice_c, bob_c, room, message, bob):
    reply = post_chat_message(room=room, author=bob, content="still here", parent_id=message.pk)
    alice_c.post(url("message_delete", message.pk), **JSON)
    [root] = bob_c.get(url("room_history", room.pk)).json()["messages"]
    assert (root["message_id"], root["is_deleted"], root["message"], root["reply_count"]) == (
        message.pk,
        True,
        "",
        1,
    )
    thread = bob_c.get(url("room_history", room.pk), {"parent": message.pk}).json()
    assert [(m["message_id"], m["message"]) for m in thread["messages"]] == [
        (reply.pk, "still here")
    ]


def test_a_deleted_comment_leaves_the_task_page_and_its_history(client_for, alice, bob, task):
    comment = post_task_comment(task=task, author=alice, content="classified plans")
    client_for(alice).post(url("comment_delete", comment.pk), **JSON)
    bob_c = client_for(bob)
    for page in (task.get_absolute_url(), url("task_comments", task.pk)):
        html = bob_c.get(page).content.decode()
        assert "classified" not in html and "message deleted" in html
    [item] = bob_c.get(url("task_comment_history", task.pk)).json()["comments"]
    assert (item["is_deleted"], item["comment"], item["html"]) == (True, "", "")


def test_delete_someone_elses_message_is_403(bob_c, message):
    assert bob_c.post(url("message_delete", message.pk), **JSON).status_code == 403


def test_moderator_deletes_someone_elses_message(alice_c, room, bob):
    theirs = post_chat_message(room=room, author=bob, content="off topic")
    assert alice_c.post(url("message_delete", theirs.pk), **JSON).status_code == 200
    theirs.refresh_from_db()
    assert theirs.is_deleted


def test_comment_endpoints(client_for, alice, bob, task):
    comment = post_task_comment(task=task, author=alice, content="note")
    alice_c, bob_c = client_for(alice), client_for(bob)
    assert bob_c.post(url("comment_edit", comment.pk), {"content": "x"}, **JSON).status_code == 403
    edited = alice_c.post(url("comment_edit", comment.pk), {"content": "note 2"}, **JSON)
    assert edited.json()["comment"] == "note 2" and edited.json()["is_edited"] is True
    reacted = bob_c.post(url("comment_react", comment.pk), {"emoji": "✅"}, **JSON).json()
    assert reacted["reactions"] == [{"emoji": "✅", "count": 1, "usernames": ["bob"]}]
    deleted = alice_c.post(url("comment_delete", comment.pk), **JSON).json()
    assert deleted["is_deleted"] is True and deleted["comment"] == ""
    stranger = client_for(UserFactory(username="eve"))
    assert (
        stranger.post(url("comment_edit", comment.pk), {"content": "x"}, **JSON).status_code == 404
    )


@pytest.mark.parametrize(
    ("name", "data"), [("message_edit", {"content": "back"}), ("message_react", {"emoji": "👍"})]
)
def test_editing_or_reacting_to_a_deleted_message_is_400(alice_c, message, name, data):
    alice_c.post(url("message_delete", message.pk), **JSON)
    response = alice_c.post(url(name, message.pk), data, **JSON)
    assert response.status_code == 400
    assert "deleted" in response.json()["error"]
    message.refresh_from_db()
    assert (message.content, message.is_deleted, message.reactions.count()) == ("", True, 0)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("comment_edit", {"content": "x"}),
        ("comment_delete", {}),
        ("comment_react", {"emoji": "👍"}),
        ("comment_edits", None),
    ],
)
def test_a_comment_you_cannot_read_is_404(client_for, dave, alice, task, name, data):
    comment = post_task_comment(task=task, author=alice, content="board only")
    client = client_for(dave)
    target = url(name, comment.pk)
    response = client.get(target) if data is None else client.post(target, data, **JSON)
    assert response.status_code == 404
    comment.refresh_from_db()
    assert (comment.content, comment.is_deleted, comment.reactions.count()) == (
        "board only",
        False,
        0,
    )


def test_message_edits_of_a_message_you_cannot_read_is_404(client_for, dave, message):
    assert client_for(dave).get(url("message_edits", message.pk)).status_code == 404


# --- reactions -------------------------------------------------------------------------------


def test_react_answers_the_reactions_object(bob_c, message, room):
    response = bob_c.post(url("message_react", message.pk), {"emoji": "🎉"}, **JSON)
    assert response.status_code == 200
    assert response.json() == {
        "type": "reactions",
        "message_id": message.pk,
        "room_id": room.pk,
        "reactions": [{"emoji": "🎉", "count": 1, "usernames": ["bob"]}],
        "seq": response.json()["seq"],
    }


def test_react_with_text_is_400(bob_c, message):
    response = bob_c.post(url("message_react", message.pk), {"emoji": "lol"}, **JSON)
    assert response.status_code == 400
    assert response.json() == {"error": "React with a single emoji."}


# --- history: threads and changes ------------------------------------------------------------


def test_history_lists_top_level_and_parent_pages_a_thread(bob_c, room, message, bob):
    replies = [
        post_chat_message(room=room, author=bob, content=f"r{i}", parent_id=message.pk)
        for i in range(3)
    ]
    top = bob_c.get(url("room_history", room.pk)).json()["messages"]
    assert [m["message_id"] for m in top] == [message.pk]
    assert top[0]["reply_count"] == 3
    thread = bob_c.get(url("room_history", room.pk), {"parent": message.pk, "limit": 2}).json()
    assert [m["message_id"] for m in thread["messages"]] == [r.pk for r in replies[1:]]
    assert thread["has_more"] is True
    older = bob_c.get(
        url("room_history", room.pk), {"parent": message.pk, "before": replies[1].pk}
    ).json()
    assert [m["message_id"] for m in older["messages"]] == [replies[0].pk]


def test_history_parent_must_be_a_root_of_this_room(bob_c, room, message, bob):
    reply = post_chat_message(room=room, author=bob, content="r", parent_id=message.pk)
    assert bob_c.get(url("room_history", room.pk), {"parent": reply.pk}).status_code == 404
    assert bob_c.get(url("room_history", room.pk), {"parent": 999999}).status_code == 404


def test_history_since_returns_every_row_changed_after(bob_c, room, alice, bob, message):
    seen = message.seq
    second = post_chat_message(room=room, author=bob, content="two")
    reply = post_chat_message(room=room, author=bob, content="re", parent_id=message.pk)
    toggle_reaction(post=second, user=alice, emoji="👍")
    edit_chat_message(message=reply, editor=bob, content="re!")
    delete_chat_message(message=second, deleted_by=bob)
    changes = bob_c.get(url("room_history", room.pk), {"since": seen}).json()
    rows = [(m["message_id"], m["is_deleted"], m["message"]) for m in changes["messages"]]
    # In sequence order, each row once, in its latest state: the root (its reply count moved),
    # the edited reply and the tombstone.
    assert rows == [
        (message.pk, False, "hello **world**"),
        (reply.pk, False, "re!"),
        (second.pk, True, ""),
    ]
    assert changes["messages"][0]["reply_count"] == 1
    seqs = [m["seq"] for m in changes["messages"]]
    assert seqs == sorted(seqs) and seqs[0] > seen
    assert bob_c.get(url("room_history", room.pk), {"since": seqs[-1]}).json()["messages"] == []


@pytest.mark.parametrize(
    "params",
    [{"since": "-1"}, {"since": "x"}, {"since": 1, "after": 1}, {"parent": "0"}],
)
def test_history_parameter_errors_are_400(bob_c, room, params):
    response = bob_c.get(url("room_history", room.pk), params)
    assert response.status_code == 400
    assert "error" in response.json()


def test_comment_history_since(client_for, alice, task):
    comment = post_task_comment(task=task, author=alice, content="c")
    toggle_reaction(post=comment, user=alice, emoji="👍")
    data = client_for(alice).get(url("task_comment_history", task.pk), {"since": 0}).json()
    assert [(c["comment_id"], c["reactions"][0]["emoji"]) for c in data["comments"]] == [
        (comment.pk, "👍")
    ]


# --- query-count guards --------------------------------------------------------------------


def _busy_room(room, alice, bob, n):
    roots = []
    for i in range(n):
        root = post_chat_message(room=room, author=alice, content=f"@bob root {i}")
        post_chat_message(room=room, author=bob, content=f"reply {i}", parent_id=root.pk)
        toggle_reaction(post=root, user=bob, emoji="👍")
        toggle_reaction(post=root, user=alice, emoji="🎉")
        roots.append(root)
    return roots


@pytest.mark.parametrize("params", [{}, {"since": 0}, "thread"])
def test_history_queries_do_not_grow_with_the_page(
    bob_c, room, alice, bob, django_assert_max_num_queries, params
):
    roots = _busy_room(room, alice, bob, 12)
    if params == "thread":
        for i in range(10):
            post_chat_message(room=room, author=alice, content=f"more {i}", parent_id=roots[0].pk)
        params = {"parent": roots[0].pk}
    # session + user + room access + page + mentions + reactions (+ thread root check)
    with django_assert_max_num_queries(8):
        response = bob_c.get(url("room_history", room.pk), params)
    assert response.status_code == 200
    assert len(response.json()["messages"]) >= 10


def test_room_page_queries_do_not_grow_with_reactions(bob_c, room, alice, bob):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def page_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert bob_c.get(url("room_detail", room.pk)).status_code == 200
        return len(captured)

    _busy_room(room, alice, bob, 1)
    small = page_queries()
    _busy_room(room, alice, bob, 15)
    assert page_queries() == small

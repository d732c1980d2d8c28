"""Jumping from a result into its conversation: `?around=<id>` on the room page and the task
page, and `history/?around=<id>` answering the page around one item with has_more both ways."""

from __future__ import annotations

import pytest

from tests.factories import ChatMessageFactory, ChatRoomFactory, TaskThreadCommentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(room, alice):
    return [ChatMessageFactory(chat_room=room, author=alice, content=f"m{i}") for i in range(120)]


def test_history_around_a_message_answers_the_page_around_it(room, history, alice, client_for):
    target = history[60]
    body = (
        client_for(alice)
        .get(f"/messaging/room/{room.pk}/history/", {"around": target.pk, "limit": 10})
        .json()
    )
    ids = [m["message_id"] for m in body["messages"]]
    assert ids == [m.pk for m in history[55:65]]
    assert body["has_more_before"] is True
    assert body["has_more_after"] is True


def test_history_around_near_either_end(room, history, alice, client_for):
    client = client_for(alice)
    url = f"/messaging/room/{room.pk}/history/"
    first = client.get(url, {"around": history[1].pk, "limit": 10}).json()
    assert [m["message_id"] for m in first["messages"]] == [m.pk for m in history[:6]]
    assert (first["has_more_before"], first["has_more_after"]) == (False, True)
    last = client.get(url, {"around": history[-2].pk, "limit": 10}).json()
    assert [m["message_id"] for m in last["messages"]] == [m.pk for m in history[-7:]]
    assert (last["has_more_before"], last["has_more_after"]) == (True, False)


def test_history_around_a_message_elsewhere_is_a_404(board, room, alice, bob, client_for):
    elsewhere = ChatMessageFactory(
        chat_room=ChatRoomFactory(board=board, created_by=alice), author=alice
    )
    response = client_for(bob).get(f"/messaging/room/{room.pk}/history/", {"around": elsewhere.pk})
    assert response.status_code == 404
    assert response.json() == {"error": "No such item here."}


def test_history_refuses_around_with_before(room, alice, client_for):
    response = client_for(alice).get(
        f"/messaging/room/{room.pk}/history/", {"around": 5, "before": 9}
    )
    assert response.status_code == 400


def test_the_room_page_opens_around_the_message(room, history, bob, client_for):
    target = history[30]
    html = client_for(bob).get(f"/messaging/room/{room.pk}/", {"around": target.pk}).content
    html = html.decode()
    assert f'id="message-{target.pk}"' in html
    assert f'id="message-{history[5].pk}"' in html  # 25 older ones
    assert f'id="message-{history[4].pk}"' not in html
    assert f'id="message-{history[-1].pk}"' not in html  # the latest is further on
    assert f'data-around="{target.pk}" data-has-newer="true"' in html
    assert 'id="load-newer"' in html


@pytest.mark.parametrize("around", ["999999", "abc", "-3", "\uff11\uff12"])
def test_the_room_page_with_a_bad_around_shows_the_latest(room, history, bob, client_for, around):
    response = client_for(bob).get(f"/messaging/room/{room.pk}/", {"around": around})
    assert response.status_code == 200
    assert f'id="message-{history[-1].pk}"' in response.content.decode()
    assert "data-around" not in response.content.decode()


def test_the_task_page_opens_around_the_comment(task, alice, client_for):
    comments = [TaskThreadCommentFactory(task=task, author=alice) for _ in range(80)]
    target = comments[10]
    html = client_for(alice).get(f"/tasks/{task.pk}/", {"around": target.pk}).content.decode()
    assert f'id="comment-{target.pk}"' in html
    assert f'id="comment-{comments[0].pk}"' in html
    assert f'id="comment-{comments[-1].pk}"' not in html
    assert 'id="load-newer-comments"' in html
    body = (
        client_for(alice)
        .get(f"/messaging/task/{task.pk}/comments/history/", {"around": target.pk, "limit": 4})
        .json()
    )
    assert [c["comment_id"] for c in body["comments"]] == [c.pk for c in comments[8:12]]
    assert (body["has_more_before"], body["has_more_after"]) == (True, True)


def test_the_room_page_opens_a_reply_at_its_thread(room, history, alice, bob, client_for):
    """A reply lives in its thread, not in the log: the page is centred on the thread's root
    and names the root, so the page can open the thread at the reply."""
    from messaging.services.posting import post_chat_message

    root = history[40]
    reply = post_chat_message(room=room, author=bob, content="in the thread", parent_id=root.pk)
    html = client_for(bob).get(f"/messaging/room/{room.pk}/", {"around": reply.pk}).content
    html = html.decode()
    assert f'id="message-{root.pk}"' in html
    assert f'id="message-{history[15].pk}"' in html  # 25 older than the root
    assert f'id="message-{history[14].pk}"' not in html
    assert f'data-around="{reply.pk}" data-around-root="{root.pk}"' in html
    plain = client_for(bob).get(f"/messaging/room/{room.pk}/", {"around": root.pk}).content
    assert b"data-around-root" not in plain

"""WebSocket interface of issue 10: each new frame, live to every open socket, and each error
case as an error frame (the socket stays open and nothing is saved)."""

from __future__ import annotations

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async

from messaging.models import ChatMessage, Reaction, TaskThreadComment
from messaging.services.editing import delete_chat_message
from messaging.services.posting import post_chat_message, post_task_comment
from messaging.services.reactions import MAX_DISTINCT_REACTIONS, toggle_reaction
from tests.factories import ChatRoomFactory, ColumnFactory, TaskFactory

from .sockets import connected, frame, room_path, send, silent, task_path

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest_asyncio.fixture
async def message(room, alice):
    return await sync_to_async(post_chat_message)(room=room, author=alice, content="hi *there*")


@pytest_asyncio.fixture
async def sockets(room, alice, bob, message):
    """alice and bob connected after alice posted `message`."""
    a = await connected(alice, room_path(room))
    b = await connected(bob, room_path(room))
    assert (await frame(a))["type"] == "user_join"
    yield a, b
    await a.disconnect()
    await b.disconnect()


async def both(a, b) -> dict:
    to_a, to_b = await frame(a), await frame(b)
    assert to_a == to_b
    return to_a


async def test_reply_frame(sockets, message, room):
    a, b = sockets
    await send(b, {"type": "chat_message", "message": "a reply", "parent_id": message.pk})
    reply = await both(a, b)
    assert (reply["type"], reply["parent_id"], reply["html"]) == (
        "chat_message",
        message.pk,
        "<p>a reply</p>",
    )
    updated = await both(a, b)
    assert updated["type"] == "thread_updated"
    assert (updated["message_id"], updated["room_id"], updated["reply_count"]) == (
        message.pk,
        room.pk,
        1,
    )
    assert updated["last_reply_at"] == reply["timestamp"]


@pytest.mark.parametrize(
    ("parent", "error"),
    [("other-room", "not in this room"), ("missing", "not in this room"), ("bad", "message id")],
)
async def test_reply_errors(sockets, message, room, board, alice, parent, error):
    a, b = sockets
    if parent == "other-room":
        other = await sync_to_async(ChatRoomFactory)(board=board, created_by=alice)
        foreign = await sync_to_async(post_chat_message)(room=other, author=alice, content="x")
        parent_id = foreign.pk
    else:
        parent_id = 999999 if parent == "missing" else "abc"
    await send(b, {"type": "chat_message", "message": "r", "parent_id": parent_id})
    answer = await frame(b)
    assert answer["type"] == "error" and error in answer["message"]
    assert await silent(a)
    assert await sync_to_async(ChatMessage.objects.filter(chat_room=room).count)() == 1


async def test_edit_message_frame(sockets, message, room):
    a, b = sockets
    await send(a, {"type": "edit_message", "message_id": message.pk, "message": "**fixed**"})
    edited = await both(a, b)
    assert {k: edited[k] for k in ("type", "message_id", "room_id", "message", "html")} == {
        "type": "message_edited",
        "message_id": message.pk,
        "room_id": room.pk,
        "message": "**fixed**",
        "html": "<p><strong>fixed</strong></p>",
    }
    assert edited["edited_at"] and edited["mentioned_users"] == []


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"message_id": "MINE", "message": "x"}, "own messages"),  # bob edits alice's
        ({"message_id": 999999, "message": "x"}, "No such message"),
        ({"message_id": None, "message": "x"}, "message id"),
        ({"message_id": "MINE"}, '"message" is required'),
        ({"message_id": "MINE", "message": "  "}, "empty"),
    ],
)
async def test_edit_message_errors(sockets, message, data, error):
    a, b = sockets
    data = {k: (message.pk if v == "MINE" else v) for k, v in data.items()}
    await send(b, {"type": "edit_message", **data})
    answer = await frame(b)
    assert answer["type"] == "error" and error in answer["message"]
    assert await silent(a)
    await sync_to_async(message.refresh_from_db)()
    assert message.content == "hi *there*"


async def test_delete_message_frame(sockets, message, room):
    a, b = sockets
    await send(a, {"type": "delete_message", "message_id": message.pk})
    assert await both(a, b) == {
        "type": "message_deleted",
        "message_id": message.pk,
        "room_id": room.pk,
        "parent_id": None,
        "seq": 2,
    }


async def test_delete_someone_elses_message_is_an_error_frame(sockets, message):
    a, b = sockets
    await send(b, {"type": "delete_message", "message_id": message.pk})
    answer = await frame(b)
    assert answer == {"type": "error", "message": "You can only delete your own messages."}
    assert await silent(a)


async def test_message_in_another_room_is_no_such_message(sockets, board, alice, bob):
    _a, b = sockets
    other = await sync_to_async(ChatRoomFactory)(board=board, created_by=alice, members=[bob])
    theirs = await sync_to_async(post_chat_message)(room=other, author=bob, content="x")
    await send(b, {"type": "delete_message", "message_id": theirs.pk})
    assert "No such message" in (await frame(b))["message"]


async def test_react_frame(sockets, message, room):
    a, b = sockets
    await send(b, {"type": "react", "message_id": message.pk, "emoji": "👍"})
    reactions = await both(a, b)
    assert {k: reactions[k] for k in ("type", "message_id", "room_id", "reactions")} == {
        "type": "reactions",
        "message_id": message.pk,
        "room_id": room.pk,
        "reactions": [{"emoji": "👍", "count": 1, "usernames": ["bob"]}],
    }


@pytest.mark.parametrize("emoji", ["nope", "", None, ["👍"], "👍👍"])
async def test_react_with_a_non_emoji_is_an_error_frame(sockets, message, emoji):
    a, b = sockets
    await send(b, {"type": "react", "message_id": message.pk, "emoji": emoji})
    answer = await frame(b)
    assert answer["type"] == "error"
    assert await silent(a)
    assert await sync_to_async(Reaction.objects.count)() == 0


async def test_comment_frames(task, alice, bob):
    comment = await sync_to_async(post_task_comment)(task=task, author=alice, content="c")
    a = await connected(alice, task_path(task))
    b = await connected(bob, task_path(task))
    await send(b, {"type": "edit_comment", "comment_id": comment.pk, "comment": "mine?"})
    assert "own comments" in (await frame(b))["message"]
    await send(a, {"type": "edit_comment", "comment_id": comment.pk, "comment": "c2"})
    edited = await both(a, b)
    assert (edited["type"], edited["comment_id"], edited["task_id"], edited["comment"]) == (
        "comment_edited",
        comment.pk,
        task.pk,
        "c2",
    )
    await send(b, {"type": "react", "comment_id": comment.pk, "emoji": "🎉"})
    reacted = await both(a, b)
    assert (reacted["type"], reacted["comment_id"], reacted["task_id"]) == (
        "reactions",
        comment.pk,
        task.pk,
    )
    await send(a, {"type": "delete_comment", "comment_id": comment.pk})
    deleted = await both(a, b)
    assert (deleted["type"], deleted["comment_id"], deleted["task_id"]) == (
        "comment_deleted",
        comment.pk,
        task.pk,
    )
    await send(a, {"type": "edit_comment", "comment_id": comment.pk, "comment": "again"})
    assert "deleted" in (await frame(a))["message"]
    comment = await sync_to_async(TaskThreadComment.objects.get)()
    assert (comment.is_deleted, comment.content) == (True, "")
    await a.disconnect()
    await b.disconnect()


# --- error cases on a deleted message, a full reaction set, missing ids, comments ------------


async def _deleted(a, b, message) -> None:
    """Its author deletes `message`; both sockets hear message_deleted."""
    await sync_to_async(delete_chat_message)(message=message, deleted_by=message.author)
    assert (await both(a, b))["type"] == "message_deleted"


async def test_reply_to_a_deleted_message_is_an_error_frame(sockets, message, room):
    a, b = sockets
    await _deleted(a, b, message)
    await send(b, {"type": "chat_message", "message": "late reply", "parent_id": message.pk})
    answer = await frame(b)
    assert answer == {"type": "error", "message": "The message you replied to was deleted."}
    assert await silent(a)
    assert await sync_to_async(ChatMessage.objects.filter(chat_room=room).count)() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"type": "edit_message", "message": "resurrected"},
        {"type": "react", "emoji": "👍"},
    ],
)
async def test_editing_or_reacting_to_a_deleted_message_is_an_error_frame(sockets, message, data):
    a, b = sockets
    await _deleted(a, b, message)
    await send(a, {**data, "message_id": message.pk})
    answer = await frame(a)
    assert answer["type"] == "error" and "deleted" in answer["message"]
    assert await silent(b)
    await sync_to_async(message.refresh_from_db)()
    assert (message.content, message.is_deleted) == ("", True)
    assert await sync_to_async(Reaction.objects.count)() == 0


@pytest.mark.parametrize(
    "data",
    [
        {"type": "delete_message"},
        {"type": "react", "emoji": "👍"},
        {"type": "react", "message_id": "x", "emoji": "👍"},
        {"type": "delete_message", "message_id": -3},
    ],
)
async def test_a_missing_or_malformed_message_id_is_an_error_frame(sockets, message, data):
    a, b = sockets
    await send(b, data)
    answer = await frame(b)
    assert answer["type"] == "error" and '"message_id"' in answer["message"]
    assert await silent(a)
    await sync_to_async(message.refresh_from_db)()
    assert not message.is_deleted
    assert await sync_to_async(Reaction.objects.count)() == 0


async def test_a_twenty_first_distinct_reaction_is_an_error_frame(room, alice, bob, message):
    faces = [chr(0x1F600 + i) for i in range(MAX_DISTINCT_REACTIONS + 1)]
    for face in faces[:MAX_DISTINCT_REACTIONS]:
        await sync_to_async(toggle_reaction)(post=message, user=alice, emoji=face)
    a = await connected(alice, room_path(room))
    b = await connected(bob, room_path(room))
    assert (await frame(a))["type"] == "user_join"
    await send(b, {"type": "react", "message_id": message.pk, "emoji": faces[-1]})
    answer = await frame(b)
    assert answer == {
        "type": "error",
        "message": "A post can carry at most 20 different reactions.",
    }
    assert await silent(a)
    # One of the twenty already there can still be added.
    await send(b, {"type": "react", "message_id": message.pk, "emoji": faces[0]})
    reactions = (await both(a, b))["reactions"]
    assert len(reactions) == MAX_DISTINCT_REACTIONS
    assert reactions[0] == {"emoji": faces[0], "count": 2, "usernames": ["alice", "bob"]}
    await a.disconnect()
    await b.disconnect()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            {"type": "delete_comment", "comment_id": "MINE"},
            "You can only delete your own comments.",
        ),
        ({"type": "react", "comment_id": "MINE", "emoji": "lol"}, "React with a single emoji."),
        ({"type": "edit_comment", "comment_id": "MINE"}, '"comment" is required.'),
        ({"type": "edit_comment", "comment_id": "OTHER", "comment": "x"}, "No such comment"),
        ({"type": "delete_comment", "comment_id": "OTHER"}, "No such comment"),
        ({"type": "react", "emoji": "👍"}, '"comment_id" must be a comment id'),
    ],
)
async def test_comment_frame_errors(board, task, alice, bob, data, error):
    """bob, on alice's comment (MINE) or on a comment of another task of the board (OTHER)."""
    comment = await sync_to_async(post_task_comment)(task=task, author=alice, content="c")
    other_task = await sync_to_async(TaskFactory)(
        column=await sync_to_async(ColumnFactory)(board=board)
    )
    elsewhere = await sync_to_async(post_task_comment)(task=other_task, author=bob, content="o")
    ids = {"MINE": comment.pk, "OTHER": elsewhere.pk}
    a = await connected(alice, task_path(task))
    b = await connected(bob, task_path(task))
    await send(b, {k: ids.get(v, v) if k == "comment_id" else v for k, v in data.items()})
    answer = await frame(b)
    assert answer["type"] == "error" and error in answer["message"]
    assert await silent(a)
    rows = await sync_to_async(
        lambda: sorted(TaskThreadComment.objects.values_list("content", "is_deleted"))
    )()
    assert rows == [("c", False), ("o", False)]
    assert await sync_to_async(Reaction.objects.count)() == 0
    await a.disconnect()
    await b.disconnect()

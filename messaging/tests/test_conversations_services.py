"""Services of issue 10: replies, edit with history, soft delete, reactions, notifications,
the change sequence. Broadcasts are checked on the in-memory layer."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from messaging import realtime
from messaging.models import ChatMessage, ChatMessageEdit, Notification, Reaction
from messaging.services.editing import (
    delete_chat_message,
    delete_task_comment,
    edit_chat_message,
    edit_task_comment,
)
from messaging.services.posting import post_chat_message, post_task_comment
from messaging.services.reactions import MAX_DISTINCT_REACTIONS, toggle_reaction
from tests.factories import ChatRoomFactory

pytestmark = pytest.mark.django_db(transaction=True)


def post(room, author, text="hello", **kwargs):
    return post_chat_message(room=room, author=author, content=text, **kwargs)


# --- replies -----------------------------------------------------------------------------


def test_reply_attaches_and_counts_on_root(room, alice, bob, listen):
    root = post(room, alice, "root")
    listener = listen(realtime.room_group(room.pk))
    reply = post(room, bob, "a reply", parent_id=root.pk)
    root.refresh_from_db()
    assert reply.parent_id == root.pk
    assert root.reply_count == 1
    assert root.last_reply_at == reply.created_at
    frames = listener.payloads()
    assert [f["type"] for f in frames] == ["chat_message", "thread_updated"]
    assert frames[0]["parent_id"] == root.pk
    assert frames[1] == {
        "type": "thread_updated",
        "message_id": root.pk,
        "room_id": room.pk,
        "reply_count": 1,
        "last_reply_at": realtime.iso(reply.created_at),
        "seq": root.seq,
    }


def test_deleting_a_reply_lowers_its_roots_count_live_and_for_resuming_sockets(
    room, alice, bob, listen
):
    root = post(room, alice, "root")
    first = post(room, bob, "first", parent_id=root.pk)
    second = post(room, alice, "second", parent_id=root.pk)
    root.refresh_from_db()
    before = root.seq
    listener = listen(realtime.room_group(room.pk))

    delete_chat_message(message=second, deleted_by=alice)

    root.refresh_from_db()
    assert (root.reply_count, root.last_reply_at) == (1, first.created_at)
    assert root.seq > before  # a socket resuming from `before` gets the root again
    updated = [f for f in listener.payloads() if f["type"] == "thread_updated"]
    assert updated == [
        {
            "type": "thread_updated",
            "message_id": root.pk,
            "room_id": room.pk,
            "reply_count": 1,
            "last_reply_at": realtime.iso(first.created_at),
            "seq": root.seq,
        }
    ]

    delete_chat_message(message=first, deleted_by=bob)
    root.refresh_from_db()
    assert (root.reply_count, root.last_reply_at) == (0, None)


def test_reply_to_a_reply_attaches_to_its_root(room, alice, bob):
    root = post(room, alice, "root")
    first = post(room, bob, "first", parent_id=root.pk)
    second = post(room, alice, "second", parent_id=first.pk)
    assert second.parent_id == root.pk
    root.refresh_from_db()
    assert root.reply_count == 2


def test_reply_to_a_message_in_another_room_is_refused(room, board, alice, bob):
    other = ChatRoomFactory(board=board, created_by=alice, members=[bob])
    elsewhere = post(other, alice, "elsewhere")
    with pytest.raises(ValidationError, match="not in this room"):
        post(room, bob, "reply", parent_id=elsewhere.pk)
    assert ChatMessage.objects.count() == 1


def test_reply_to_a_deleted_message_is_refused(room, alice, bob):
    root = post(room, alice, "root")
    delete_chat_message(message=root, deleted_by=alice)
    with pytest.raises(ValidationError, match="deleted"):
        post(room, bob, "reply", parent_id=root.pk)
    assert ChatMessage.objects.count() == 1


@pytest.mark.parametrize("bad", ["abc", 1.5, True, [1], {"id": 1}])
def test_reply_with_a_malformed_parent_id_is_refused(room, alice, bad):
    with pytest.raises(ValidationError):
        post(room, alice, "x", parent_id=bad)
    assert not ChatMessage.objects.exists()


def test_reply_notifies_root_author_and_earlier_repliers_once(room, board, alice, bob, carol):
    room.members.add(carol)
    root = post(room, alice, "root")
    post(room, bob, "bob replies", parent_id=root.pk)
    # carol's reply mentions alice too: alice still gets one notification for it.
    reply = post(room, carol, "@alice carol replies", parent_id=root.pk)
    notes = Notification.objects.filter(chat_message=reply)
    assert sorted((n.recipient.username, n.notification_type) for n in notes) == [
        ("alice", "mention"),
        ("bob", "reply"),
    ]
    # Never the replier: bob's reply notified alice only.
    first_reply_notes = Notification.objects.exclude(chat_message=reply)
    assert [(n.recipient.username, n.notification_type) for n in first_reply_notes] == [
        ("alice", "reply")
    ]


# --- edit ---------------------------------------------------------------------------------


def test_edit_keeps_history_and_broadcasts(room, alice, listen):
    message = post(room, alice, "helo")
    listener = listen(realtime.room_group(room.pk))
    edited = edit_chat_message(message=message, editor=alice, content="**hello**")
    assert edited.is_edited and edited.edited_at is not None
    assert edited.html == "<p><strong>hello</strong></p>"
    [version] = ChatMessageEdit.objects.filter(message=message)
    assert version.content == "helo"
    [frame] = listener.payloads()
    assert frame == {
        "type": "message_edited",
        "message_id": message.pk,
        "room_id": room.pk,
        "message": "**hello**",
        "html": "<p><strong>hello</strong></p>",
        "edited_at": realtime.iso(edited.edited_at),
        "mentioned_users": [],
        "parent_id": None,
        "seq": edited.seq,
    }


def test_someone_elses_message_cannot_be_edited(room, alice, bob):
    message = post(room, alice, "mine")
    with pytest.raises(ValidationError) as caught:
        edit_chat_message(message=message, editor=bob, content="yours now")
    assert caught.value.code == "forbidden"
    message.refresh_from_db()
    assert message.content == "mine" and not message.is_edited


def test_edit_notifies_only_the_newly_mentioned_once(room, board, alice, bob, carol):
    room.members.add(carol)
    message = post(room, alice, "hi @bob")
    edit_chat_message(message=message, editor=alice, content="hi @bob and @carol")
    edit_chat_message(message=message, editor=alice, content="hi @bob and @carol!")
    names = sorted(
        Notification.objects.filter(chat_message=message).values_list(
            "recipient__username", flat=True
        )
    )
    assert names == ["bob", "carol"]


def test_comment_edit_notifies_only_the_newly_mentioned_once(task, alice, bob, carol):
    comment = post_task_comment(task=task, author=alice, content="cc @bob")
    edit_task_comment(comment=comment, editor=alice, content="cc @bob @carol")
    edit_task_comment(comment=comment, editor=alice, content="cc @bob @carol!")
    notes = Notification.objects.filter(task_thread_comment=comment)
    assert sorted(notes.values_list("recipient__username", "notification_type")) == [
        ("bob", "mention"),
        ("carol", "mention"),
    ]


def test_edit_to_empty_is_refused(room, alice):
    message = post(room, alice, "text")
    with pytest.raises(ValidationError, match="empty"):
        edit_chat_message(message=message, editor=alice, content="   ")


def test_comment_edit_and_delete(task, alice, bob, listen):
    comment = post_task_comment(task=task, author=alice, content="first")
    listener = listen(realtime.task_group(task.pk))
    edit_task_comment(comment=comment, editor=alice, content="_second_")
    with pytest.raises(ValidationError):
        delete_task_comment(comment=comment, deleted_by=bob)
    delete_task_comment(comment=comment, deleted_by=alice)
    frames = listener.payloads()
    assert [f["type"] for f in frames] == ["comment_edited", "comment_deleted"]
    assert frames[0]["html"] == "<p><em>second</em></p>"
    assert frames[1] == {
        "type": "comment_deleted",
        "comment_id": comment.pk,
        "task_id": task.pk,
        "seq": frames[1]["seq"],
    }


# --- delete -------------------------------------------------------------------------------


def test_delete_leaves_a_tombstone_without_text(room, alice, bob, listen):
    message = post(room, alice, "secret @bob")
    edit_chat_message(message=message, editor=alice, content="secret v2 @bob")
    listener = listen(realtime.room_group(room.pk))
    delete_chat_message(message=message, deleted_by=alice)
    message.refresh_from_db()
    assert message.is_deleted and message.content == "" and message.html == ""
    assert not ChatMessageEdit.objects.filter(message=message).exists()
    assert not message.mentioned_users.exists()
    assert listener.payloads() == [
        {
            "type": "message_deleted",
            "message_id": message.pk,
            "room_id": room.pk,
            "parent_id": None,
            "seq": message.seq,
        }
    ]


def test_delete_withdraws_unread_notifications_and_pushes_the_badge(room, alice, bob, listen):
    message = post(room, alice, "hey @bob")
    assert Notification.objects.filter(recipient=bob, is_read=False).count() == 1
    badge = listen(realtime.user_group(bob.pk))
    delete_chat_message(message=message, deleted_by=alice)
    assert not Notification.objects.filter(recipient=bob).exists()
    assert {"type": "unread_count", "count": 0} in badge.payloads()


def test_read_notification_of_a_deleted_message_loses_its_text(room, alice, bob):
    message = post(room, alice, "secret @bob")
    Notification.objects.filter(recipient=bob).update(is_read=True)
    delete_chat_message(message=message, deleted_by=alice)
    [note] = Notification.objects.filter(recipient=bob)
    assert "secret" not in note.text


def test_member_cannot_delete_someone_elses_message(room, alice, bob):
    message = post(room, alice, "keep")
    with pytest.raises(ValidationError) as caught:
        delete_chat_message(message=message, deleted_by=bob)
    assert caught.value.code == "forbidden"
    message.refresh_from_db()
    assert not message.is_deleted


def test_room_creator_moderates(room, alice, bob, caplog):
    message = post(room, bob, "spam")
    delete_chat_message(message=message, deleted_by=alice)  # alice created the room
    message.refresh_from_db()
    assert message.is_deleted


def test_deleting_twice_changes_nothing(room, alice):
    message = post(room, alice, "x")
    first = delete_chat_message(message=message, deleted_by=alice)
    second = delete_chat_message(message=message, deleted_by=alice)
    assert first.seq == second.seq


# --- reactions ----------------------------------------------------------------------------


def test_reaction_toggles_and_broadcasts_summary(room, alice, bob, listen):
    message = post(room, alice, "react to me")
    listener = listen(realtime.room_group(room.pk))
    toggle_reaction(post=message, user=alice, emoji="👍")
    answer = toggle_reaction(post=message, user=bob, emoji="👍")
    assert answer["reactions"] == [{"emoji": "👍", "count": 2, "usernames": ["alice", "bob"]}]
    answer = toggle_reaction(post=message, user=alice, emoji="👍")
    assert answer["reactions"] == [{"emoji": "👍", "count": 1, "usernames": ["bob"]}]
    frames = listener.payloads()
    assert [f["type"] for f in frames] == ["reactions"] * 3
    assert frames[-1] == answer
    assert answer["message_id"] == message.pk and answer["room_id"] == room.pk


@pytest.mark.parametrize("emoji", ["👍🏽", "🇫🇷", "👨‍👩‍👧", "❤️", "1️⃣"])
def test_real_emoji_are_accepted(room, alice, emoji):
    message = post(room, alice, "x")
    assert toggle_reaction(post=message, user=alice, emoji=emoji)["reactions"][0]["emoji"] == emoji


@pytest.mark.parametrize("bad", ["", "a", ":+1:", "👍👍", "👍 x", "<b>", "👍x", None, 5])
def test_non_emoji_are_refused(room, alice, bad):
    message = post(room, alice, "x")
    with pytest.raises(ValidationError):
        toggle_reaction(post=message, user=alice, emoji=bad)
    assert not Reaction.objects.exists()


def test_at_most_twenty_distinct_reactions(room, alice, bob):
    message = post(room, alice, "x")
    faces = [chr(0x1F600 + i) for i in range(MAX_DISTINCT_REACTIONS + 1)]
    for face in faces[:MAX_DISTINCT_REACTIONS]:
        toggle_reaction(post=message, user=alice, emoji=face)
    with pytest.raises(ValidationError, match="at most 20"):
        toggle_reaction(post=message, user=alice, emoji=faces[-1])
    # An emoji already there can still be added by someone else.
    toggle_reaction(post=message, user=bob, emoji=faces[0])


def test_reactions_on_comments(task, alice):
    comment = post_task_comment(task=task, author=alice, content="x")
    answer = toggle_reaction(post=comment, user=alice, emoji="🎉")
    assert answer == {
        "type": "reactions",
        "comment_id": comment.pk,
        "task_id": task.pk,
        "reactions": [{"emoji": "🎉", "count": 1, "usernames": ["alice"]}],
        "seq": answer["seq"],
    }


# --- the change sequence ------------------------------------------------------------------


def test_every_change_takes_the_next_sequence_number(room, alice, bob):
    first = post(room, alice, "one")
    second = post(room, bob, "two")
    assert (first.seq, second.seq) == (1, 2)
    reply = post(room, bob, "reply", parent_id=first.pk)
    first.refresh_from_db()
    assert (reply.seq, first.seq) == (3, 4)
    assert toggle_reaction(post=second, user=alice, emoji="👀")["seq"] == 5
    assert edit_chat_message(message=reply, editor=bob, content="edited").seq == 6
    assert delete_chat_message(message=second, deleted_by=bob).seq == 7

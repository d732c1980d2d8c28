"""The posting, room and typing services: the one write path every interface uses."""

from __future__ import annotations

import datetime
import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from messaging import realtime
from messaging.models import ChatMessage, ChatRoom, TaskThreadComment, UserTypingStatus
from messaging.services import posting
from messaging.services.posting import post_chat_message, post_task_comment
from messaging.services.rooms import add_room_member, create_chat_room, remove_room_member
from messaging.services.typing import clear_typing, record_typing
from tests.factories import UserFactory, add_board_members

pytestmark = pytest.mark.django_db


@pytest.fixture
def scheduled(monkeypatch) -> list[dict]:
    """Calls to schedule_mention_notifications made by the posting services."""
    calls: list[dict] = []
    monkeypatch.setattr(posting, "schedule_mention_notifications", lambda **kw: calls.append(kw))
    return calls


# --- post_chat_message ------------------------------------------------------------------


def test_post_chat_message_saves_stripped_content(room, alice):
    message = post_chat_message(room=room, author=alice, content="  Hello team!\n ")

    assert ChatMessage.objects.get() == message
    assert message.content == "Hello team!"
    assert message.author == alice
    assert message.chat_room == room


def test_message_without_mentions_is_broadcast_to_the_room(
    room, alice, listen, django_capture_on_commit_callbacks
):
    listener = listen(realtime.room_group(room.pk))
    with django_capture_on_commit_callbacks(execute=True):
        message = post_chat_message(room=room, author=alice, content="Hello team")

    [payload] = listener.payloads()
    assert payload == {
        "type": "chat_message",
        "message_id": message.pk,
        "room_id": room.pk,
        "username": "alice",
        "display_name": "Alice A.",
        "user_id": alice.pk,
        "is_bot": False,
        "message": "Hello team",
        "timestamp": message.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "mentioned_users": [],
        "client_id": None,
        "parent_id": None,
        "reply_count": 0,
        "last_reply_at": None,
        "html": "<p>Hello team</p>",
        "is_edited": False,
        "edited_at": None,
        "is_deleted": False,
        "reactions": [],
        "seq": 1,
        "attachments": [],
    }


def test_broadcast_waits_for_commit(room, alice, listen, django_capture_on_commit_callbacks):
    listener = listen(realtime.room_group(room.pk))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post_chat_message(room=room, author=alice, content="Hello")
        assert listener.payloads(timeout=0.05) == []

    assert callbacks, "the broadcast must be deferred to on_commit"
    for callback in callbacks:
        callback()
    assert [p["message"] for p in listener.payloads()] == ["Hello"]


def test_rolled_back_message_is_never_broadcast(
    room, alice, listen, django_capture_on_commit_callbacks
):
    listener = listen(realtime.room_group(room.pk))
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        post_chat_message(room=room, author=alice, content="never happened")
        raise RuntimeError("roll back")

    assert callbacks == []
    assert listener.payloads(timeout=0.05) == []
    assert not ChatMessage.objects.exists()


def test_mentions_resolve_only_to_room_members(room, alice, bob, carol, dave, scheduled):
    # carol is on the board but not in the room; dave is a stranger; nobody is called "ghost"
    message = post_chat_message(room=room, author=alice, content="@bob @carol @dave @ghost hi")

    assert list(message.mentioned_users.all()) == [bob]
    assert scheduled == [{"kind": "chat_message", "object_id": message.pk}]
    assert message.mentions_notified_at is None


def test_mentioning_yourself_is_ignored(room, alice, scheduled):
    message = post_chat_message(room=room, author=alice, content="note to @alice")

    assert not message.mentioned_users.exists()
    assert scheduled == []
    assert message.mentions_notified_at is not None


def test_duplicate_and_differently_cased_mentions_collapse(room, alice, bob, scheduled):
    message = post_chat_message(room=room, author=alice, content="@bob @BOB @Bob. again @bob!")

    assert list(message.mentioned_users.all()) == [bob]
    assert len(scheduled) == 1


def test_mention_matching_ignores_case_of_stored_username(room, alice):
    shouty = UserFactory(username="Shouty")
    add_board_members(room.board, shouty)
    room.members.add(shouty)

    message = post_chat_message(room=room, author=alice, content="hey @shouty")

    assert list(message.mentioned_users.all()) == [shouty]


def test_broadcast_lists_mentioned_usernames(
    room, alice, bob, listen, django_capture_on_commit_callbacks
):
    listener = listen(realtime.room_group(room.pk))
    with django_capture_on_commit_callbacks(execute=True):
        post_chat_message(room=room, author=alice, content="Hello @BOB and @nobody")

    [payload] = listener.payloads()
    assert payload["mentioned_users"] == ["bob"]


def test_message_without_mentions_owes_no_notifications(room, alice, scheduled):
    message = post_chat_message(room=room, author=alice, content="plain")

    assert message.mentions_notified_at is not None
    assert scheduled == []


@pytest.mark.parametrize("content", ["", "   ", "\n\t  \n"])
def test_empty_message_is_rejected(room, alice, content):
    with pytest.raises(ValidationError, match="empty"):
        post_chat_message(room=room, author=alice, content=content)
    assert not ChatMessage.objects.exists()


def test_oversized_message_is_rejected_with_the_limit(room, alice, settings):
    with pytest.raises(ValidationError, match="limited to 4000 characters"):
        post_chat_message(room=room, author=alice, content="x" * (settings.MESSAGE_MAX_LENGTH + 1))
    assert not ChatMessage.objects.exists()


def test_message_at_the_limit_is_accepted(room, alice, settings):
    message = post_chat_message(room=room, author=alice, content="x" * settings.MESSAGE_MAX_LENGTH)
    assert len(message.content) == settings.MESSAGE_MAX_LENGTH


def test_non_member_cannot_post(room, carol):
    with pytest.raises(ValidationError, match="not a member"):
        post_chat_message(room=room, author=carol, content="let me in")
    assert not ChatMessage.objects.exists()


def test_member_who_left_the_board_cannot_post(room, bob):
    room.board.members.remove(bob)
    with pytest.raises(ValidationError, match="not a member"):
        post_chat_message(room=room, author=bob, content="still here?")


def test_retry_with_same_client_id_returns_the_first_message(
    room, alice, listen, django_capture_on_commit_callbacks
):
    listener = listen(realtime.room_group(room.pk))
    with django_capture_on_commit_callbacks(execute=True):
        first = post_chat_message(room=room, author=alice, content="once", client_id="c-1")
    with django_capture_on_commit_callbacks(execute=True) as second_callbacks:
        again = post_chat_message(room=room, author=alice, content="once", client_id="c-1")

    assert again.pk == first.pk
    assert ChatMessage.objects.count() == 1
    assert second_callbacks == []  # nothing new to broadcast
    [payload] = listener.payloads()
    assert payload["client_id"] == "c-1"


def test_retry_inside_a_callers_transaction_leaves_it_usable(room, alice):
    # No lookup before the insert: the unique constraint decides, and the failed insert must
    # roll back only its own savepoint, not the caller's transaction.
    from django.db import transaction

    winner = post_chat_message(room=room, author=alice, content="x", client_id="race")
    with transaction.atomic():
        again = post_chat_message(room=room, author=alice, content="x", client_id="race")
        later = post_chat_message(room=room, author=alice, content="y", client_id="next")

    assert again.pk == winner.pk
    assert list(ChatMessage.objects.order_by("pk").values_list("pk", flat=True)) == [
        winner.pk,
        later.pk,
    ]


def test_client_id_is_scoped_to_the_author(room, alice, bob):
    post_chat_message(room=room, author=alice, content="a", client_id="same")
    post_chat_message(room=room, author=bob, content="b", client_id="same")
    assert ChatMessage.objects.count() == 2


def test_empty_client_id_never_deduplicates(room, alice):
    post_chat_message(room=room, author=alice, content="a")
    post_chat_message(room=room, author=alice, content="a")
    assert ChatMessage.objects.count() == 2


def test_oversized_client_id_is_rejected(room, alice):
    with pytest.raises(ValidationError, match="client_id"):
        post_chat_message(room=room, author=alice, content="a", client_id="x" * 65)


def test_posting_ends_the_authors_typing(room, alice):
    record_typing(room=room, user=alice)
    post_chat_message(room=room, author=alice, content="done typing")
    assert not UserTypingStatus.objects.exists()


# --- post_task_comment ------------------------------------------------------------------


def test_comment_is_saved_and_broadcast_to_the_task_group(
    task, alice, listen, django_capture_on_commit_callbacks
):
    listener = listen(realtime.task_group(task.pk))
    with django_capture_on_commit_callbacks(execute=True):
        comment = post_task_comment(task=task, author=alice, content="Great work")

    assert TaskThreadComment.objects.get() == comment
    [payload] = listener.payloads()
    assert {k: v for k, v in payload.items() if k != "timestamp"} == {
        "type": "new_comment",
        "comment_id": comment.pk,
        "task_id": task.pk,
        "username": "alice",
        "display_name": "Alice A.",
        "user_id": alice.pk,
        "comment": "Great work",
        "mentioned_users": [],
        "client_id": None,
        "html": "<p>Great work</p>",
        "is_edited": False,
        "edited_at": None,
        "is_deleted": False,
        "reactions": [],
        "seq": 1,
        "attachments": [],
    }
    assert comment.mentions_notified_at is not None


def test_comment_mentions_resolve_to_board_members_only(task, alice, carol, dave, scheduled):
    # carol is a board member (no room needed for task threads); dave is a stranger
    comment = post_task_comment(task=task, author=alice, content="@Carol @dave @alice look")

    assert list(comment.mentioned_users.all()) == [carol]
    assert scheduled == [{"kind": "comment", "object_id": comment.pk}]
    assert comment.mentions_notified_at is None


def test_stranger_cannot_comment(task, dave):
    with pytest.raises(ValidationError, match="not a member"):
        post_task_comment(task=task, author=dave, content="hi")


def test_comment_retry_with_same_client_id_returns_the_first(task, bob):
    first = post_task_comment(task=task, author=bob, content="hi", client_id="k")
    again = post_task_comment(task=task, author=bob, content="hi", client_id="k")
    assert again.pk == first.pk
    assert TaskThreadComment.objects.count() == 1


def test_oversized_comment_is_rejected(task, bob, settings):
    with pytest.raises(ValidationError, match="limited"):
        post_task_comment(task=task, author=bob, content="y" * (settings.MESSAGE_MAX_LENGTH + 1))


# --- rooms ------------------------------------------------------------------------------


def test_create_chat_room_always_includes_the_creator(board, bob, carol):
    room = create_chat_room(board=board, created_by=bob, name=" design ", members=[carol])

    assert room.name == "design"
    assert set(room.members.all()) == {bob, carol}
    assert room.created_by == bob


def test_room_names_are_unique_per_board_ignoring_case(board, room, alice):
    with pytest.raises(ValidationError) as excinfo:
        create_chat_room(board=board, created_by=alice, name="GENERAL")
    assert "name" in excinfo.value.error_dict
    assert ChatRoom.objects.count() == 1


def test_same_room_name_is_fine_on_another_board(room, dave):
    from tests.factories import BoardFactory

    other = BoardFactory(created_by=dave)
    assert create_chat_room(board=other, created_by=dave, name="general").pk != room.pk


def test_room_members_must_belong_to_the_board(board, alice, dave):
    with pytest.raises(ValidationError) as excinfo:
        create_chat_room(board=board, created_by=alice, name="x", members=[dave])
    assert "members" in excinfo.value.error_dict
    assert not ChatRoom.objects.exists()


def test_only_board_members_can_create_rooms(board, dave):
    with pytest.raises(ValidationError, match="Only members"):
        create_chat_room(board=board, created_by=dave, name="x")


def test_room_creator_adds_a_board_member(room, alice, carol):
    assert add_room_member(room=room, user=carol, added_by=alice) is True
    assert room.members.filter(pk=carol.pk).exists()
    assert add_room_member(room=room, user=carol, added_by=alice) is False


def test_board_creator_manages_rooms_they_did_not_create(board, alice, bob, carol):
    room = create_chat_room(board=board, created_by=bob, name="bobs")
    assert add_room_member(room=room, user=carol, added_by=alice) is True


def test_plain_member_cannot_manage_members(room, bob, carol):
    with pytest.raises(ValidationError, match="creator"):
        add_room_member(room=room, user=carol, added_by=bob)


def test_strangers_cannot_be_added(room, alice, dave):
    with pytest.raises(ValidationError, match="not a member of this board"):
        add_room_member(room=room, user=dave, added_by=alice)


def test_removing_a_member_signals_their_sockets_after_commit(
    room, alice, bob, listen, django_capture_on_commit_callbacks
):
    listener = listen(realtime.user_group(bob.pk))
    record_typing(room=room, user=bob)
    with django_capture_on_commit_callbacks(execute=True):
        assert remove_room_member(room=room, user=bob, removed_by=alice) is True

    assert not room.members.filter(pk=bob.pk).exists()
    assert not UserTypingStatus.objects.filter(user=bob).exists()
    assert [e["type"] for e in listener.events()] == [realtime.ACCESS_CHANGED]


def test_room_creator_cannot_be_removed(room, alice):
    with pytest.raises(ValidationError, match="creator cannot be removed"):
        remove_room_member(room=room, user=alice, removed_by=alice)


# --- typing -----------------------------------------------------------------------------


def test_typing_is_broadcast_to_others_with_an_expiry_hint(
    room, bob, listen, settings, django_capture_on_commit_callbacks
):
    listener = listen(realtime.room_group(room.pk))
    with django_capture_on_commit_callbacks(execute=True):
        assert record_typing(room=room, user=bob) is True

    [event] = listener.events()
    assert event["exclude_user_id"] == bob.pk
    assert json.loads(event["text"]) == {
        "type": "user_typing",
        "username": "bob",
        "display_name": "Bob B.",
        "user_id": bob.pk,
        "expires_in": 10,
    }
    assert settings.TYPING_EXPIRY_SECONDS == 10
    assert UserTypingStatus.objects.filter(chat_room=room, user=bob).exists()


def test_typing_broadcasts_are_throttled_but_status_is_refreshed(room, bob):
    assert record_typing(room=room, user=bob) is True
    # Age the row, so "refreshed" cannot pass by the clock standing still.
    stale = timezone.now() - datetime.timedelta(minutes=5)
    UserTypingStatus.objects.update(last_update=stale)
    assert record_typing(room=room, user=bob) is False
    assert UserTypingStatus.objects.get().last_update > stale


def test_throttle_is_per_user_and_room(room, alice, bob):
    assert record_typing(room=room, user=bob) is True
    assert record_typing(room=room, user=alice) is True


def test_stop_typing_clears_status_and_resets_the_throttle(
    room, bob, listen, django_capture_on_commit_callbacks
):
    record_typing(room=room, user=bob)
    listener = listen(realtime.room_group(room.pk))
    with django_capture_on_commit_callbacks(execute=True):
        clear_typing(room=room, user=bob)

    assert not UserTypingStatus.objects.exists()
    [payload] = listener.payloads()
    assert payload["type"] == "user_stop_typing"
    assert record_typing(room=room, user=bob) is True


# --- demo seed --------------------------------------------------------------------------


def test_seed_demo_adds_a_general_room_once():
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())

    room = ChatRoom.objects.get(name="General")
    assert sorted(room.members.values_list("username", flat=True)) == ["alice", "bob", "carol"]
    assert room.messages.count() == 3
    assert list(room.messages.last().mentioned_users.values_list("username", flat=True)) == ["bob"]

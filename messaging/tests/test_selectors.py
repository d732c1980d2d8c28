"""Reads scoped to a user: room access, room lists with activity, keyset pages, typists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from messaging.models import ChatMessage, UserTypingStatus
from messaging.selectors import rooms as selectors
from messaging.selectors.paging import keyset_page
from messaging.selectors.threads import comment_page, is_task_board_member, recent_comments
from messaging.services.posting import post_chat_message, post_task_comment
from tests.factories import ChatMessageFactory, ChatRoomFactory, TaskThreadCommentFactory

pytestmark = pytest.mark.django_db


def test_room_member_gets_the_room(room, bob):
    assert selectors.get_room_for(bob, room.pk) == room


def test_board_member_outside_the_room_gets_404(room, carol):
    with pytest.raises(Http404):
        selectors.get_room_for(carol, room.pk)


def test_missing_room_gets_404(bob):
    with pytest.raises(Http404):
        selectors.get_room_for(bob, 999_999)


def test_room_member_who_left_the_board_loses_the_room(room, bob):
    room.board.members.remove(bob)
    with pytest.raises(Http404):
        selectors.get_room_for(bob, room.pk)
    assert not selectors.is_room_member(user_id=bob.pk, room_id=room.pk)


def test_is_room_member(room, bob, carol):
    assert selectors.is_room_member(user_id=bob.pk, room_id=room.pk)
    assert not selectors.is_room_member(user_id=carol.pk, room_id=room.pk)


def test_reader_ids_follow_each_room_and_each_change(room, alice, bob, carol):
    """room_reader_ids reuses one compiled query (issue 16): still each room's own readers,
    and a change of membership shows at once."""
    from messaging import access

    other = ChatRoomFactory(board=room.board, created_by=alice, members=[carol])
    assert access.room_reader_ids(room.pk) == {alice.pk, bob.pk}
    assert access.room_reader_ids(other.pk) == {alice.pk, carol.pk}
    room.board.members.remove(bob)
    assert access.room_reader_ids(room.pk) == {alice.pk}
    room.members.add(carol)
    assert access.room_reader_ids(room.pk) == {alice.pk, carol.pk}
    assert access.room_reader_ids(10**9) == set()


def test_deactivated_user_is_no_longer_a_member(room, bob):
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    assert not selectors.is_room_member(user_id=bob.pk, room_id=room.pk)


def test_board_rooms_count_all_members_and_show_last_activity(board, room, alice, bob, carol):
    quiet = ChatRoomFactory(board=board, name="quiet", created_by=alice, members=[bob, carol])
    hidden = ChatRoomFactory(board=board, name="hidden", created_by=bob)  # alice is not in it
    message = post_chat_message(room=room, author=bob, content="hi")

    rooms = list(selectors.board_rooms_for(alice, board))

    assert rooms == [room, quiet]
    assert hidden not in rooms
    assert [r.member_count for r in rooms] == [2, 3]
    assert rooms[0].last_activity == message.created_at
    assert rooms[1].last_activity == quiet.created_at


def test_inbox_lists_my_rooms_newest_activity_first_with_a_preview(board, room, alice, bob):
    older = ChatRoomFactory(board=board, name="older", created_by=alice, members=[bob])
    first = post_chat_message(room=older, author=bob, content="first")
    ChatMessage.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    post_chat_message(room=room, author=bob, content="latest news")

    rooms = list(selectors.inbox_rooms_for(alice))

    assert rooms == [room, older]
    assert rooms[0].last_content == "latest news"
    assert rooms[0].last_author == "Bob B."
    assert rooms[0].board == board


def test_inbox_excludes_rooms_of_boards_i_left(room, bob):
    room.board.members.remove(bob)
    assert list(selectors.inbox_rooms_for(bob)) == []


def test_room_members_and_addable_members(room, alice, bob, carol):
    assert list(selectors.room_members(room)) == [alice, bob]
    assert list(selectors.addable_members(room)) == [carol]


def test_can_manage_room(board, room, alice, bob):
    bobs_room = ChatRoomFactory(board=board, created_by=bob)
    assert selectors.can_manage_room(alice, room)
    assert not selectors.can_manage_room(bob, room)
    assert selectors.can_manage_room(bob, bobs_room)
    assert selectors.can_manage_room(alice, bobs_room)  # the board's creator


# --- keyset paging ----------------------------------------------------------------------


@pytest.fixture
def ten_messages(room) -> list[ChatMessage]:
    return [ChatMessageFactory(chat_room=room, content=f"m{i}") for i in range(10)]


def ids(page) -> list[int]:
    return [item.pk for item in page.items]


def test_latest_page_is_oldest_first(room, ten_messages):
    page = selectors.message_page(room, limit=4)
    assert ids(page) == [m.pk for m in ten_messages[-4:]]
    assert page.has_more is True


def test_before_pages_backwards_without_overlap(room, ten_messages):
    page = selectors.message_page(room, before=ten_messages[6].pk, limit=4)
    assert ids(page) == [m.pk for m in ten_messages[2:6]]
    assert page.has_more is True

    last = selectors.message_page(room, before=ten_messages[2].pk, limit=4)
    assert ids(last) == [m.pk for m in ten_messages[:2]]
    assert last.has_more is False


def test_after_pages_forwards(room, ten_messages):
    page = selectors.message_page(room, after=ten_messages[3].pk, limit=4)
    assert ids(page) == [m.pk for m in ten_messages[4:8]]
    assert page.has_more is True

    rest = selectors.message_page(room, after=ten_messages[7].pk, limit=4)
    assert ids(rest) == [m.pk for m in ten_messages[8:]]
    assert rest.has_more is False


def test_exact_fit_has_no_more(room, ten_messages):
    assert selectors.message_page(room, limit=10).has_more is False


def test_pages_never_include_other_rooms(board, room, ten_messages):
    other = ChatRoomFactory(board=board)
    ChatMessageFactory(chat_room=other)
    assert len(selectors.message_page(room, limit=100).items) == 10


def test_keyset_page_rejects_both_directions(room):
    with pytest.raises(ValueError):
        keyset_page(ChatMessage.objects.all(), before=5, after=1, limit=3)


def test_message_payload_lists_mentioned_usernames(room, alice, bob):
    post_chat_message(room=room, author=alice, content="hey @bob")
    [message] = selectors.message_page(room, limit=5).items
    payload = selectors.message_payload(message)
    assert payload["mentioned_users"] == ["bob"]
    assert payload["message_id"] == message.pk


def test_recent_messages_flag_mentions_of_the_viewer(room, alice, bob):
    post_chat_message(room=room, author=alice, content="hey @bob")
    post_chat_message(room=room, author=alice, content="plain")
    page = selectors.recent_messages(room, bob)
    assert [m.mentions_me for m in page.items] == [True, False]


# --- typists ----------------------------------------------------------------------------


def test_current_typists_ignore_stale_rows_and_the_viewer(room, alice, bob, settings):
    now = timezone.now()
    UserTypingStatus.objects.create(chat_room=room, user=alice, last_update=now)
    UserTypingStatus.objects.create(
        chat_room=room,
        user=bob,
        last_update=now - timedelta(seconds=settings.TYPING_EXPIRY_SECONDS + 1),
    )
    assert list(selectors.current_typists(room)) == [alice]
    assert list(selectors.current_typists(room, exclude_user_id=alice.pk)) == []


# --- threads ----------------------------------------------------------------------------


def test_task_thread_membership(task, bob, dave):
    assert is_task_board_member(user_id=bob.pk, task_id=task.pk)
    assert not is_task_board_member(user_id=dave.pk, task_id=task.pk)


def test_comment_pages_and_recent_comments(task, alice, bob):
    comments = [TaskThreadCommentFactory(task=task) for _ in range(5)]
    page = comment_page(task, before=comments[3].pk, limit=2)
    assert ids(page) == [comments[1].pk, comments[2].pk]
    assert page.has_more is True

    mention = post_task_comment(task=task, author=alice, content="@bob see this")
    recent = recent_comments(task, bob, limit=2)
    assert ids(recent) == [comments[4].pk, mention.pk]
    assert [c.mentions_me for c in recent.items] == [False, True]

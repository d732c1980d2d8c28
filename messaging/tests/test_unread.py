"""Unread per room (issue 11): read pointers, counts, mentions, muting, the endpoints and
their cost. Rooms: `room` (alice, bob) on alice's board where carol is a member but not in
the room; dave belongs to nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from messaging.models import Notification, RoomReadState
from messaging.selectors.unread import muted_room_ids, room_unread, unread_counts
from messaging.services.editing import delete_chat_message
from messaging.services.notifications import create_mention_notifications
from messaging.services.posting import post_chat_message
from messaging.services.read_state import mark_room_read, set_room_muted
from tests.factories import ChatRoomFactory

JSON = {"HTTP_ACCEPT": "application/json"}


def post(room, author, content: str):
    return post_chat_message(room=room, author=author, content=content)


def counts(user, room) -> tuple[int, int]:
    item = room_unread(user, room.pk)
    return item["unread"], item["mentions"]


# --- the selector -----------------------------------------------------------------------


def test_messages_from_others_are_unread_until_read(room, alice, bob):
    first = post(room, alice, "one")
    post(room, alice, "two")
    assert counts(bob, room) == (2, 0)
    mark_room_read(room=room, user=bob, message_id=first.pk)
    assert counts(bob, room) == (1, 0)


def test_own_messages_are_never_unread(room, alice, bob):
    post(room, bob, "mine")
    post(room, bob, "mine too")
    assert counts(bob, room) == (0, 0)
    assert counts(alice, room) == (2, 0)


def test_mentions_count_the_unread_messages_that_mention_me(room, alice, bob):
    post(room, alice, "hi @bob")
    post(room, alice, "no mention")
    assert counts(bob, room) == (2, 1)


def test_a_deleted_message_is_no_longer_unread(room, alice, bob):
    message = post(room, alice, "oops @bob")
    post(room, alice, "stays")
    delete_chat_message(message=message, deleted_by=alice)
    assert counts(bob, room) == (1, 0)


def test_the_listing_has_every_readable_room_and_a_total(board, room, alice, bob):
    other = ChatRoomFactory(board=board, name="random", created_by=alice, members=[bob])
    last = post(room, alice, "a")
    post(other, alice, "b")
    post(other, alice, "c @bob")
    data = unread_counts(bob)
    assert data["total"] == 3
    assert {r["room_id"]: (r["unread"], r["mentions"]) for r in data["rooms"]} == {
        room.pk: (1, 0),
        other.pk: (2, 1),
    }
    assert [r["last_message_id"] for r in data["rooms"] if r["room_id"] == room.pk] == [last.pk]


def test_a_room_i_cannot_read_is_not_listed(room, alice, carol):
    post(room, alice, "members only")
    assert unread_counts(carol) == {"rooms": [], "total": 0}
    assert room_unread(carol, room.pk) is None


# --- the read pointer -------------------------------------------------------------------


def test_the_read_pointer_never_moves_backwards(room, alice, bob):
    first = post(room, alice, "one")
    second = post(room, alice, "two")
    mark_room_read(room=room, user=bob, message_id=second.pk)
    item = mark_room_read(room=room, user=bob, message_id=first.pk)  # a slow tab
    assert (item["unread"], item["last_read_message_id"]) == (0, second.pk)
    assert RoomReadState.objects.get(room=room, user=bob).last_read_message_id == second.pk


def test_reading_needs_a_message_of_that_room(board, room, alice, bob):
    other = ChatRoomFactory(board=board, name="random", created_by=alice, members=[bob])
    elsewhere = post(other, alice, "elsewhere")
    with pytest.raises(ValidationError):
        mark_room_read(room=room, user=bob, message_id=elsewhere.pk)
    assert not RoomReadState.objects.filter(room=room).exists()


def test_reading_the_room_reads_its_mention_notifications_up_to_there(room, alice, bob):
    first = post(room, alice, "@bob first")
    second = post(room, alice, "@bob second")
    for message in (first, second):
        create_mention_notifications(kind="chat_message", object_id=message.pk)
    mark_room_read(room=room, user=bob, message_id=first.pk)
    unread = Notification.objects.filter(recipient=bob, is_read=False)
    assert list(unread.values_list("chat_message_id", flat=True)) == [second.pk]


# --- muting -----------------------------------------------------------------------------


def test_a_muted_room_leaves_the_total_but_its_mentions_count(board, room, alice, bob):
    other = ChatRoomFactory(board=board, name="random", created_by=alice, members=[bob])
    post(room, alice, "plain")
    post(room, alice, "hey @bob")
    post(other, alice, "elsewhere")
    item = set_room_muted(room=room, user=bob, muted=True)
    assert (item["muted"], item["unread"], item["mentions"]) == (True, 2, 1)
    assert unread_counts(bob)["total"] == 1 + 1  # other's message + room's mention
    set_room_muted(room=room, user=bob, muted=False)
    assert unread_counts(bob)["total"] == 3


def test_muted_room_ids_names_each_users_muted_rooms(board, room, alice, bob, carol):
    other = ChatRoomFactory(board=board, name="random", created_by=alice, members=[bob])
    set_room_muted(room=room, user=bob, muted=True)
    set_room_muted(room=other, user=bob, muted=True)
    set_room_muted(room=other, user=bob, muted=False)
    set_room_muted(room=room, user=alice, muted=True)
    assert muted_room_ids([alice.pk, bob.pk, carol.pk]) == {
        alice.pk: {room.pk},
        bob.pk: {room.pk},
        carol.pk: set(),
    }


def test_a_non_reader_cannot_mute(room, carol):
    with pytest.raises(ValidationError):
        set_room_muted(room=room, user=carol, muted=True)


# --- the endpoints ----------------------------------------------------------------------


def test_get_unread_answers_rooms_and_total(client_for, room, alice, bob):
    message = post(room, alice, "hi @bob")
    response = client_for(bob).get(reverse("messaging:unread"), **JSON)
    assert response.status_code == 200
    assert response.json() == {
        "rooms": [
            {
                "room_id": room.pk,
                "unread": 1,
                "mentions": 1,
                "last_message_id": message.pk,
                "last_read_message_id": 0,
                "muted": False,
            }
        ],
        "total": 1,
    }


def test_post_read_answers_the_rooms_new_counts(client_for, room, alice, bob):
    first = post(room, alice, "one")
    post(room, alice, "two")
    url = reverse("messaging:room_read", args=[room.pk])
    response = client_for(bob).post(url, {"message_id": first.pk}, **JSON)
    assert response.status_code == 200
    assert (response.json()["unread"], response.json()["last_read_message_id"]) == (1, first.pk)


@pytest.mark.parametrize("value", ["", "abc", "0", str(2**63)])
def test_post_read_with_a_bad_message_id_is_a_readable_400(client_for, room, bob, value):
    url = reverse("messaging:room_read", args=[room.pk])
    response = client_for(bob).post(url, {"message_id": value}, **JSON)
    assert response.status_code == 400
    assert response.json()["error"]


def test_post_read_by_a_non_reader_is_404(client_for, room, alice, carol):
    message = post(room, alice, "secret")
    for name in ("room_read", "room_mute"):
        url = reverse(f"messaging:{name}", args=[room.pk])
        response = client_for(carol).post(url, {"message_id": message.pk, "muted": "true"}, **JSON)
        assert response.status_code == 404
    assert not RoomReadState.objects.exists()


def test_mute_endpoint_json_and_form_fallback(client_for, room, bob):
    client = client_for(bob)
    url = reverse("messaging:room_mute", args=[room.pk])
    response = client.post(url, {"muted": "true"}, **JSON)
    assert (response.status_code, response.json()["muted"]) == (200, True)
    response = client.post(url, {"muted": "false"})  # a plain form: back to the room
    assert response.status_code == 302
    assert response["Location"] == room.get_absolute_url()
    assert not RoomReadState.objects.get(room=room, user=bob).muted
    response = client.post(url, {"muted": "maybe"}, **JSON)
    assert response.status_code == 400 and "true or false" in response.json()["error"]


def test_the_inbox_and_board_room_list_show_counts(client_for, board, room, alice, bob):
    post(room, alice, "one")
    post(room, alice, "two @bob")
    client = client_for(bob)
    for url in (reverse("messaging:inbox"), reverse("messaging:room_list", args=[board.pk])):
        html = client.get(url).content.decode()
        assert "2 new</span>" in html
        assert 'data-mention-marker title="Mentions you">' in html


def test_the_room_page_carries_the_read_pointer(client_for, room, alice, bob):
    first = post(room, alice, "one")
    mark_room_read(room=room, user=bob, message_id=first.pk)
    html = client_for(bob).get(room.get_absolute_url()).content.decode()
    assert f'data-last-read="{first.pk}"' in html


# --- cost -------------------------------------------------------------------------------


def _rooms_with_messages(board, alice, bob, n: int, prefix: str) -> None:
    from messaging.models import ChatMessage, ChatRoom

    rooms = ChatRoom.objects.bulk_create(
        ChatRoom(board=board, name=f"{prefix}-{i}", created_by=alice) for i in range(n)
    )
    through = ChatRoom.members.through
    through.objects.bulk_create(
        through(chatroom_id=r.pk, user_id=u.pk) for r in rooms for u in (alice, bob)
    )
    ChatMessage.objects.bulk_create(
        ChatMessage(chat_room=r, author=alice, content="hi") for r in rooms
    )


def test_counts_for_200_rooms_take_as_many_queries_as_for_2(
    board, alice, bob, client_for, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(bob)
    url = reverse("messaging:unread")
    _rooms_with_messages(board, alice, bob, 2, "few")
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, **JSON).json()["total"] == 2
    _rooms_with_messages(board, alice, bob, 198, "many")
    with django_assert_num_queries(len(few.captured_queries)):
        data = client.get(url, **JSON).json()
    assert (len(data["rooms"]), data["total"]) == (200, 200)


def test_the_inbox_with_counts_takes_as_many_queries_for_200_rooms_as_for_2(
    board, alice, bob, client_for, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(bob)
    _rooms_with_messages(board, alice, bob, 2, "few")
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("messaging:inbox"))
    _rooms_with_messages(board, alice, bob, 198, "many")
    with django_assert_num_queries(len(few.captured_queries)):
        html = client.get(reverse("messaging:inbox")).content.decode()
    assert html.count("1 new</span>") == 200

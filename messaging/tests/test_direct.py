"""Direct messages (issue 10): who may be messaged, get-or-create of one room per set of
people, access for a third person, notifications, and the inbox."""

from __future__ import annotations

import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.urls import reverse

from messaging.models import ChatRoom, Notification
from messaging.services.direct import get_or_create_direct_room
from messaging.services.posting import post_chat_message
from tests.factories import OrganizationFactory, UserFactory, join_organization

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}
DIRECT = "/messaging/direct/"


@pytest.fixture
def acme(alice, bob, carol):
    return OrganizationFactory(name="Acme", owner=alice, members=[bob, carol])


@pytest.fixture
def outsider(db):
    """erin is in another organization only."""
    erin = UserFactory(username="erin")
    OrganizationFactory(name="Other", owner=erin)
    return erin


@pytest.fixture
def dm(acme, alice, bob):
    room, _ = get_or_create_direct_room(sender=alice, usernames=["bob"])
    return room


# --- opening a direct room -------------------------------------------------------------------


def test_post_direct_creates_then_returns_the_same_room(client_for, acme, alice, bob):
    client = client_for(alice)
    first = client.post(DIRECT, {"usernames": "bob"}, **JSON)
    assert first.status_code == 201
    data = first.json()
    room = ChatRoom.objects.get(pk=data["room_id"])
    assert data == {"room_id": room.pk, "url": f"/messaging/room/{room.pk}/", "created": True}
    assert (room.room_type, room.organization, room.board) == ("direct", acme, None)
    assert sorted(room.members.values_list("username", flat=True)) == ["alice", "bob"]
    # The same people, named any way and by either of them, get the same room.
    again = client_for(bob).post(DIRECT, {"usernames": "@ALICE"}, **JSON)
    assert again.status_code == 200
    assert again.json() == {**data, "created": False}


def test_usernames_repeated_or_comma_separated(client_for, acme, alice, bob, carol):
    response = client_for(alice).post(DIRECT, {"usernames": ["bob", "carol, bob"]}, **JSON)
    room = ChatRoom.objects.get(pk=response.json()["room_id"])
    assert room.members.count() == 3


def test_form_post_redirects_to_the_room(client_for, acme, alice, bob):
    response = client_for(alice).post(DIRECT, {"usernames": "bob"})
    room = ChatRoom.objects.get(room_type="direct")
    assert response.status_code == 302 and response["Location"] == room.get_absolute_url()


@pytest.mark.parametrize(
    ("usernames", "error"),
    [
        ("", "Name at least one person"),
        ("alice", "someone other than yourself"),
        ("nobody", "No one in your organizations is called @nobody."),
        ("erin", "No one in your organizations is called @erin."),
        ("bob, erin", "@erin"),
    ],
)
def test_bad_names_are_400_with_a_clear_message(
    client_for, acme, alice, bob, outsider, usernames, error
):
    response = client_for(alice).post(DIRECT, {"usernames": usernames}, **JSON)
    assert response.status_code == 400
    assert error in response.json()["error"]
    assert not ChatRoom.objects.filter(room_type="direct").exists()


def test_at_most_eight_people(client_for, acme, alice):
    names = [UserFactory(username=f"p{i}") for i in range(8)]
    for user in names:
        join_organization(acme, user)
    response = client_for(alice).post(
        DIRECT, {"usernames": ",".join(u.username for u in names)}, **JSON
    )
    assert response.status_code == 400 and "at most 8" in response.json()["error"]
    ok = client_for(alice).post(
        DIRECT, {"usernames": ",".join(u.username for u in names[:7])}, **JSON
    )
    assert ok.status_code == 201


def test_people_in_different_organizations_of_mine_do_not_share_one(
    client_for, acme, alice, outsider
):
    other = OrganizationFactory(name="Side", owner=alice)
    zoe = UserFactory(username="zoe")
    join_organization(other, zoe)
    response = client_for(alice).post(DIRECT, {"usernames": "bob, zoe"}, **JSON)
    assert response.status_code == 400
    assert "do not all belong to one organization" in response.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_make_one_room(acme, alice, bob):
    if connection.vendor == "sqlite":
        pytest.skip("needs concurrent writers (PostgreSQL: the services tier)")
    barrier = threading.Barrier(4)
    results = []

    def open_room():
        barrier.wait()
        try:
            results.append(get_or_create_direct_room(sender=alice, usernames=["bob"])[0].pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=open_room) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(results) == 4
    assert ChatRoom.objects.filter(room_type="direct").count() == 1


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "name", "data"),
    [
        ("get", "room_detail", None),
        ("get", "room_history", None),
        ("post", "room_send", {"content": "let me in"}),
    ],
)
def test_a_third_person_gets_404(client_for, dm, carol, method, name, data):
    response = getattr(client_for(carol), method)(reverse(f"messaging:{name}", args=[dm.pk]), data)
    assert response.status_code == 404
    assert not dm.messages.exists()


def test_participants_use_the_same_page_send_and_history(client_for, dm, alice, bob):
    send = client_for(alice).post(
        reverse("messaging:room_send", args=[dm.pk]), {"content": "hi **bob**"}, **JSON
    )
    assert send.status_code == 201
    page = client_for(bob).get(reverse("messaging:room_detail", args=[dm.pk]))
    assert page.status_code == 200
    assert "<strong>bob</strong>" in page.content.decode()
    history = client_for(bob).get(reverse("messaging:room_history", args=[dm.pk])).json()
    assert [m["message"] for m in history["messages"]] == ["hi **bob**"]


def test_leaving_the_organization_closes_the_room(client_for, dm, acme, bob):
    acme.memberships.filter(user=bob).delete()
    response = client_for(bob).get(reverse("messaging:room_detail", args=[dm.pk]))
    assert response.status_code == 404


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_third_person_cannot_open_the_socket(acme, alice, bob, carol):
    from .sockets import connected, socket_for

    room, _ = await sync_to_async(get_or_create_direct_room)(sender=alice, usernames=["bob"])
    ok, _ = await socket_for(carol, f"/ws/chat-room/{room.pk}/").connect(timeout=3)
    assert not ok
    socket = await connected(bob, f"/ws/chat-room/{room.pk}/")
    await socket.disconnect()


# --- notifications and the inbox ---------------------------------------------------------------


def test_direct_message_notifies_the_other_participants_once(
    acme, alice, bob, carol, django_capture_on_commit_callbacks
):
    room, _ = get_or_create_direct_room(sender=alice, usernames=["bob", "carol"])
    with django_capture_on_commit_callbacks(execute=True):
        message = post_chat_message(room=room, author=alice, content="lunch? @bob")
    notes = Notification.objects.filter(chat_message=message).order_by("recipient__username")
    assert [(n.recipient.username, n.notification_type) for n in notes] == [
        ("bob", "mention"),
        ("carol", "direct_message"),
    ]
    assert notes[1].text == 'alice sent you a message: "lunch? @bob"'
    from messaging.services.notifications import create_mention_notifications

    assert create_mention_notifications(kind="chat_message", object_id=message.pk) == 0


def test_inbox_lists_direct_and_board_rooms_newest_first(client_for, dm, room, alice, bob):
    post_chat_message(room=room, author=alice, content="board news")
    post_chat_message(room=dm, author=bob, content="psst")
    page = client_for(alice).get(reverse("messaging:inbox")).content.decode()
    assert page.index(f'data-room-id="{dm.pk}"') < page.index(f'data-room-id="{room.pk}"')
    assert "Direct message" in page and 'id="new-message"' in page


def test_people_picker_suggests_only_my_organizations(client_for, acme, alice, outsider):
    people = client_for(alice).get("/messaging/direct/people/", {"q": ""}).json()["people"]
    assert [p["username"] for p in people] == ["bob", "carol"]
    found = client_for(alice).get("/messaging/direct/people/", {"q": "ca"}).json()["people"]
    assert [p["username"] for p in found] == ["carol"]


def test_inbox_queries_do_not_grow_with_direct_rooms(
    client_for, acme, alice, bob, django_assert_max_num_queries
):
    """Each direct room's other people (for their presence dots) come in one query."""
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    client = client_for(alice)
    first, _ = get_or_create_direct_room(sender=alice, usernames=["bob"])
    post_chat_message(room=first, author=bob, content="hi")
    with CaptureQueriesContext(db) as few:
        assert client.get(reverse("messaging:inbox")).status_code == 200
    for i in range(10):
        person = UserFactory(username=f"p{i}")
        join_organization(acme, person)
        room, _ = get_or_create_direct_room(sender=person, usernames=["alice", "bob"])
        post_chat_message(room=room, author=person, content=f"hello {i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("messaging:inbox")).content.decode()
    assert page.count("Direct message") == 11

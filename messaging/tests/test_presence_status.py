"""Presence (issue 11): the status a user's pages add up to, and the endpoint that reads it.

Statuses are computed at an explicit `now`, so time passing needs no sleep."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from messaging import presence_store
from messaging.presence_store import AWAY, OFFLINE, ONLINE
from messaging.services import presence as service
from tests.factories import BoardFactory, ChatRoomFactory, UserFactory, add_board_members

T0 = 1_800_000_000.0  # a fixed clock


@pytest.fixture(autouse=True)
def _bounds(settings):
    settings.PRESENCE_ONLINE_SECONDS = 60
    settings.PRESENCE_CONNECTION_TTL_SECONDS = 90
    settings.PRESENCE_FRAME_INTERVAL_SECONDS = 5


def status_of(user, now: float) -> str:
    return service.presence_of([user], now=now)[0]["status"]


def beat(user, conn: str, *, visible: bool = True, idle: bool = False, at: float = T0):
    return service.record_heartbeat(
        user=user, connection_id=conn, visible=visible, idle=idle, now=at
    )


# --- the rule ---------------------------------------------------------------------------


def test_a_busy_embedded_server_keeps_an_open_tabs_user_online(bob):
    """Embedded, presence records share this process's cache with every user's rate-limit
    counters. Django's default cache size (300 keys) dropped the least recently used third
    whenever it filled, bob's record with it: he read as offline with his tab open."""
    from messaging import ratelimit

    beat(bob, "tab1")
    for user_id in range(1_000_000, 1_001_000):  # a busy hour: others posting and typing
        ratelimit.hit(bucket=ratelimit.CHAT, user_id=user_id)
        ratelimit.hit(bucket=ratelimit.TYPING, user_id=user_id)
    assert status_of(bob, T0 + 1) == ONLINE


def test_nobody_is_online_without_a_connection(bob):
    assert status_of(bob, T0) == OFFLINE


def test_a_visible_active_page_is_online(bob):
    beat(bob, "tab1")
    assert status_of(bob, T0 + 1) == ONLINE


def test_a_hidden_page_is_away(bob):
    beat(bob, "tab1", visible=False)
    assert status_of(bob, T0 + 1) == AWAY


def test_an_idle_page_is_away(bob):
    beat(bob, "tab1")
    beat(bob, "tab1", idle=True, at=T0 + 300)
    assert status_of(bob, T0 + 301) == AWAY


def test_a_page_that_stopped_reporting_turns_away_after_the_online_window(bob):
    beat(bob, "tab1")
    assert status_of(bob, T0 + 59) == ONLINE
    assert status_of(bob, T0 + 61) == AWAY


def test_one_visible_tab_among_hidden_ones_is_online(bob):
    beat(bob, "hidden", visible=False)
    beat(bob, "shown")
    assert status_of(bob, T0 + 1) == ONLINE


def test_closing_the_last_tab_is_offline(bob):
    beat(bob, "tab1")
    beat(bob, "tab2", visible=False)
    service.drop_connection(user_id=bob.pk, connection_id="tab1")
    assert status_of(bob, T0 + 1) == AWAY
    service.drop_connection(user_id=bob.pk, connection_id="tab2")
    assert status_of(bob, T0 + 1) == OFFLINE


def test_a_connection_nobody_keeps_alive_expires(bob):
    """A killed process drops nothing: its connections pass their expiry."""
    beat(bob, "tab1")
    assert status_of(bob, T0 + 89) == AWAY  # open but quiet
    assert status_of(bob, T0 + 91) == OFFLINE


def test_last_active_stays_after_going_offline(bob):
    beat(bob, "tab1")
    beat(bob, "tab1", visible=False, at=T0 + 30)  # hidden: not "active"
    service.drop_connection(user_id=bob.pk, connection_id="tab1")
    (row,) = service.presence_of([bob], now=T0 + 100)
    assert row == {"username": "bob", "status": OFFLINE, "last_active": "2027-01-15T08:00:00Z"}


# --- announcing -------------------------------------------------------------------------


def test_a_change_is_announced_to_the_users_rooms_and_boards(board, room, bob):
    other_board = BoardFactory(name="Elsewhere")  # bob cannot read it
    ChatRoomFactory(board=other_board, name="secret")
    announcement = beat(bob, "tab1")
    assert announcement.payload == {
        "type": "presence",
        "user_id": bob.pk,
        "username": "bob",
        "status": "online",
    }
    assert sorted(announcement.groups) == sorted([f"chat_room_{room.pk}", f"board_{board.pk}"])


def test_an_unchanged_status_is_not_announced_again(bob):
    beat(bob, "tab1")
    assert beat(bob, "tab1", at=T0 + 25).payload is None


def test_a_second_change_inside_the_interval_waits_for_its_end(bob):
    beat(bob, "tab1")  # online, announced
    held = beat(bob, "tab1", visible=False, at=T0 + 1)
    assert held.payload is None
    assert held.retry_at == pytest.approx(T0 + 5)


def test_the_sweep_announces_the_users_of_a_killed_process_and_no_one_else(room, alice, bob):
    now = time.time()
    beat(alice, "alive", at=now)
    # What a process killed long ago leaves behind: bob announced online, his connection
    # never dropped, its expiry passed.
    dead = presence_store.encode_connection(
        visible=True, idle=False, at=now - 100, expires=now - 10
    )
    presence_store.store().write(
        bob.pk, {presence_store.connection_field("dead"): dead, "pub": ONLINE}, track=True
    )

    results = dict(service.sweep())

    assert list(results) == [bob.pk]
    assert results[bob.pk].payload == {
        "type": "presence",
        "user_id": bob.pk,
        "username": "bob",
        "status": "offline",
    }
    assert presence_store.store().tracked() == [alice.pk]
    assert dict(service.sweep()) == {}


# --- the endpoint -----------------------------------------------------------------------


def url(**params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{reverse('messaging:presence')}?{query}"


def test_room_presence_lists_its_readers(client_for, room, alice, bob):
    beat(bob, "tab1", at=time.time())
    response = client_for(alice).get(url(room=room.pk))
    assert response.status_code == 200
    users = response.json()["users"]
    assert [(u["username"], u["status"]) for u in users] == [
        ("alice", OFFLINE),
        ("bob", ONLINE),
    ]
    assert users[0]["last_active"] is None
    assert users[1]["last_active"].endswith("Z")


def test_presence_answers_what_the_frames_announced_not_a_blip_inside_the_interval(
    client_for, room, alice, bob
):
    """Bob's log-in page closes its socket just before his room tab opens one: the frames
    coalesce that blip, so a page's refresh must not report it either (nothing would correct
    the page before its next poll)."""
    now = time.time()
    assert beat(bob, "home", at=now).payload is not None  # online, announced
    held = service.drop_connection(user_id=bob.pk, connection_id="home")
    assert held.payload is None  # offline for a moment, inside the frame interval

    def bob_status() -> str:
        users = client_for(alice).get(url(room=room.pk)).json()["users"]
        return {u["username"]: u["status"] for u in users}["bob"]

    assert status_of(bob, now) == OFFLINE  # the state of this moment...
    assert bob_status() == ONLINE  # ...but the answer is what the frames said
    # (The trailing frame announces a change that still stands when the interval ends:
    # test_a_second_change_inside_the_interval_waits_for_its_end.)


def test_board_presence_lists_its_readers(client_for, board, alice):
    response = client_for(alice).get(url(board=board.pk))
    assert [u["username"] for u in response.json()["users"]] == ["alice", "bob", "carol"]


def test_a_room_the_user_cannot_read_is_404(client_for, room, carol, dave):
    assert client_for(carol).get(url(room=room.pk)).status_code == 404  # on the board only
    assert client_for(dave).get(url(room=room.pk)).status_code == 404


def test_a_board_the_user_cannot_read_is_404(client_for, board, dave):
    assert client_for(dave).get(url(board=board.pk)).status_code == 404
    assert client_for(dave).get(url(board=999999)).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "",
        "room=x",
        "room=0",
        "board=-1",
        "room=99999999999",
        "room=1&board=1",
        "direct=1&room=1",
        "direct=yes",
    ],
)
def test_bad_parameters_are_400_with_a_message(client_for, alice, room, query):
    response = client_for(alice).get(f"{reverse('messaging:presence')}?{query}")
    assert response.status_code == 400
    assert response.json()["error"]


def test_direct_presence_lists_the_people_of_my_direct_rooms(client_for, board, alice, bob, carol):
    """The inbox asks `?direct=1`: the other people of my direct rooms, no one else (carol
    is on my board but we share no direct room)."""
    from messaging.services.direct import get_or_create_direct_room

    beat(bob, "tab1", at=time.time())
    get_or_create_direct_room(sender=alice, usernames=["bob"])
    response = client_for(alice).get(url(direct=1))
    assert response.status_code == 200
    assert [(u["username"], u["status"]) for u in response.json()["users"]] == [("bob", ONLINE)]
    assert client_for(carol).get(url(direct=1)).json() == {"users": []}


def test_the_inbox_draws_a_dot_for_the_other_person_of_a_direct_room(client_for, board, alice, bob):
    from messaging.services.direct import get_or_create_direct_room

    get_or_create_direct_room(sender=alice, usernames=["bob"])
    page = client_for(alice).get(reverse("messaging:inbox")).content.decode()
    assert 'data-presence-user="bob"' in page
    assert 'data-presence-user="alice"' not in page  # not my own
    assert "?direct=1" in page


def test_queries_do_not_grow_with_the_people(client_for, alice, board):
    client = client_for(alice)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url(board=board.pk)).status_code == 200
        return len(ctx)

    few = queries()
    for i in range(8):
        user = UserFactory(username=f"extra{i}")
        service.record_heartbeat(user=user, connection_id="t", visible=True, idle=False)
        add_board_members(board, user)
    assert len(client.get(url(board=board.pk)).json()["users"]) == 11
    assert queries() == few


@pytest.mark.services
def test_the_redis_store_adds_up_connections_of_several_processes(settings, redis_url, bob):
    """With the Redis cache each connection is a field of the user's hash: writes from
    different processes (here: connections) never overwrite each other."""
    import uuid

    from django.core.cache import caches

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
        }
    }
    assert type(service.presence_store.store()).__name__ == "RedisStore"
    beat(bob, "process-a", visible=False)
    beat(bob, "process-b")
    assert status_of(bob, T0 + 1) == ONLINE
    service.drop_connection(user_id=bob.pk, connection_id="process-b")
    assert status_of(bob, T0 + 1) == AWAY
    assert status_of(bob, T0 + 91) == OFFLINE  # process-a was never dropped: it expired
    assert bob.pk in service.presence_store.store().tracked()
    client = caches["default"]._cache.get_client(write=True)
    for key in client.scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*"):
        client.delete(key)

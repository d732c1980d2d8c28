"""Mention parsing (pure) and resolution (a selector scoped to room or board members)."""

import pytest

from messaging.mentions import extract_mentions
from messaging.selectors.mentions import mention_suggestions, mentionable_users
from tests.factories import BoardFactory, ChatRoomFactory, UserFactory

# --- parsing: one case per rule ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("hi @bob", ["bob"], id="plain_username"),
        pytest.param("@bob at the start", ["bob"], id="at_start_of_text"),
        pytest.param(
            "@a1 @x.y @p+q @m-n @u_v @me@home",
            ["a1", "x.y", "p+q", "m-n", "u_v", "me@home"],
            id="django_username_characters",
        ),
        pytest.param("thanks @bob.", ["bob"], id="trailing_period_not_in_name"),
        pytest.param("thanks @bob...", ["bob"], id="trailing_ellipsis_not_in_name"),
        pytest.param("@bob, @carol! @dave?", ["bob", "carol", "dave"], id="trailing_punctuation"),
        pytest.param("mail bob@example.com", [], id="email_address_mentions_nobody"),
        pytest.param("(@bob) and [@carol]", ["bob", "carol"], id="brackets_around_mention"),
        pytest.param("@Bob and @CAROL", ["bob", "carol"], id="case_insensitive_lowercased"),
        pytest.param("@bob @carol @BOB @bob", ["bob", "carol"], id="duplicates_collapse"),
        pytest.param("@zed then @amy then @mo", ["zed", "amy", "mo"], id="order_kept"),
        pytest.param("no mentions here", [], id="no_mentions"),
        pytest.param("a lone @ sign", [], id="lone_at_sign"),
        pytest.param("", [], id="empty_text"),
        pytest.param("line1\n@bob\tand @carol", ["bob", "carol"], id="whitespace_separators"),
        pytest.param("@jörg was here", ["jörg"], id="unicode_letters"),
    ],
)
def test_extract_mentions(text, expected):
    assert extract_mentions(text) == expected


def test_extract_mentions_accepts_none():
    assert extract_mentions(None) == []


# --- resolution: mentionable_users ------------------------------------------------------


@pytest.fixture
def room_setup(db):
    alice = UserFactory(username="alice")
    bob = UserFactory(username="Bob")
    carol = UserFactory(username="carol")  # board member, not in the room
    outsider = UserFactory(username="outsider")
    board = BoardFactory(created_by=alice, members=[bob, carol])
    room = ChatRoomFactory(board=board, created_by=alice, members=[bob])
    return {
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "outsider": outsider,
        "board": board,
        "room": room,
    }


def test_mentionable_users_room_scope_is_room_members_only(room_setup, django_assert_num_queries):
    s = room_setup
    with django_assert_num_queries(1):
        users = list(mentionable_users(names=["alice", "bob", "carol", "outsider"], room=s["room"]))
    assert {u.username for u in users} == {"alice", "Bob"}


def test_room_member_removed_from_the_board_is_neither_mentioned_nor_suggested(room_setup):
    s = room_setup
    s["board"].members.remove(s["bob"])  # bob's room row stays; he can read nothing there

    assert not mentionable_users(names=["bob"], room=s["room"]).exists()
    assert mention_suggestions(prefix="b", room=s["room"]) == []


def test_mentionable_users_board_scope_is_board_members(room_setup):
    s = room_setup
    users = mentionable_users(names=["bob", "carol", "outsider"], board=s["board"])
    assert {u.username for u in users} == {"Bob", "carol"}


def test_mentionable_users_match_is_case_insensitive(room_setup):
    users = mentionable_users(names=["BOB"], room=room_setup["room"])
    assert [u.username for u in users] == ["Bob"]


def test_mentionable_users_does_not_exclude_the_author(room_setup):
    """The posting service excludes the author; the selector only scopes."""
    users = mentionable_users(names=["alice"], room=room_setup["room"])
    assert [u.username for u in users] == ["alice"]


def test_mentionable_users_no_names_no_query(room_setup, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert list(mentionable_users(names=[], room=room_setup["room"])) == []


def test_mentionable_users_needs_exactly_one_scope(room_setup):
    with pytest.raises(ValueError):
        mentionable_users(names=["bob"])
    with pytest.raises(ValueError):
        mentionable_users(names=["bob"], room=room_setup["room"], board=room_setup["board"])


# --- autocomplete suggestions -----------------------------------------------------------


def test_mention_suggestions_prefix_on_username_or_display_name(room_setup):
    s = room_setup
    s["carol"].display_name = "Bobby Tables"
    s["carol"].save()
    names = [r["username"] for r in mention_suggestions(prefix="bo", board=s["board"])]
    assert names == ["Bob", "carol"]


def test_mention_suggestions_never_match_or_return_emails(room_setup):
    s = room_setup
    results = mention_suggestions(prefix="example", board=s["board"])
    assert results == []
    results = mention_suggestions(prefix="", board=s["board"])
    assert all(set(r) == {"username", "display_name"} for r in results)

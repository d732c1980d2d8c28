"""Results come only from what the searcher can read at the moment of searching: their rooms
(and those rooms' boards) for messages, their boards for tasks and comments. Nothing of the
rest appears, not even in a snippet or a filter's answer."""

from __future__ import annotations

import pytest

from kanban import services as kanban_services
from messaging.services.rooms import remove_room_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(room, task, alice, bob, say, comment_on):
    """A secret in the room (alice, bob), on the task (board: alice, bob, carol)."""
    return {
        "message": say(room, alice, "the vault code is hunter2 marmalade"),
        "comment": comment_on(task, alice, "marmalade budget approved"),
        "task": task,
    }


def test_members_find_everything_they_can_read(world, bob, found):
    assert sorted(found(bob, "marmalade")) == sorted(
        [("message", world["message"].pk), ("comment", world["comment"].pk)]
    )


def test_a_board_member_outside_the_room_finds_the_board_but_not_the_room(world, carol, found):
    assert found(carol, "marmalade") == [("comment", world["comment"].pk)]
    assert found(carol, "hunter2") == []
    assert found(carol, "from:@alice") == [
        ("comment", world["comment"].pk),
        ("task", world["task"].pk),
    ]


def test_a_stranger_finds_nothing(world, dave, search_json):
    for q in ("marmalade", "hunter2", "from:@alice", "board:Launch", "in:#general", "ship"):
        status, body = search_json(dave, q)
        assert status == 200
        assert body["results"] == []
        assert "marmalade" not in str(body) and "hunter2" not in str(body)


def test_removed_from_the_room_finds_nothing_of_it_at_once(world, room, alice, bob, found):
    assert ("message", world["message"].pk) in found(bob, "marmalade")
    remove_room_member(room=room, user=bob, removed_by=alice)
    assert found(bob, "marmalade") == [("comment", world["comment"].pk)]
    assert found(bob, "hunter2") == []
    assert found(bob, "in:#general") == []


def test_removed_from_the_board_finds_nothing_of_it(world, board, alice, bob, search_json):
    kanban_services.remove_member(board=board, user=bob, removed_by=alice)
    for q in ("marmalade", "hunter2", "ship", "board:Launch", "from:@alice"):
        status, body = search_json(bob, q)
        assert status == 200
        assert body["results"] == [], q
        assert "marmalade" not in str(body)


def test_the_page_shows_no_snippet_of_what_i_cannot_read(world, carol, client_for):
    html = client_for(carol).get("/search/", {"q": "vault OR marmalade"}).content.decode()
    assert "hunter2" not in html
    assert "<mark>marmalade</mark> budget" in html


def test_search_needs_a_login(client):
    response = client.get("/search/", {"q": "anything"})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_another_organization_is_invisible_even_with_the_same_names(world, alice, dave, found):
    """Globex (dave's) has a board "Launch" with a room #general too; neither side sees the
    other's, by word, by room or board name, or by author."""
    from tests.factories import (
        BoardFactory,
        ChatRoomFactory,
        OrganizationFactory,
        join_organization,
    )

    globex = OrganizationFactory(name="Globex")
    join_organization(globex, dave)
    their_board = BoardFactory(name="Launch", created_by=dave, organization=globex)
    their_room = ChatRoomFactory(board=their_board, name="general", created_by=dave)
    from messaging.services.posting import post_chat_message

    theirs = post_chat_message(room=their_room, author=dave, content="globex marmalade secret")
    assert found(dave, "marmalade") == [("message", theirs.pk)]
    assert found(dave, "in:#general") == [("message", theirs.pk)]
    assert ("message", theirs.pk) not in found(alice, "marmalade")
    assert found(alice, "globex") == []
    assert found(alice, "from:@dave") == []
    assert found(alice, "board:Launch in:#general") == [("message", world["message"].pk)]


def test_removed_from_the_organization_finds_nothing_of_it(world, board, alice, bob, found):
    from accounts.models import Membership
    from accounts.org_services import remove_member

    membership = Membership.objects.get(organization=board.organization, user=bob)
    remove_member(membership=membership, removed_by=alice)
    assert found(bob, "marmalade") == []
    assert found(bob, "from:@alice") == []


def test_the_organization_is_the_outer_boundary_even_for_leftover_rows(world, board, bob, found):
    """A board or room row that something forgot to clean up grants nothing once the person
    is no longer in the organization."""
    from accounts.models import Membership

    Membership.objects.filter(organization=board.organization, user=bob).delete()
    assert board.members.filter(pk=bob.pk).exists()
    assert found(bob, "marmalade") == []


def test_a_direct_room_between_others_stays_theirs(board, alice, bob, carol, say, found):
    """carol shares the organization and the board with alice and bob, but not their direct
    room: none of it reaches her, while both of them find it."""
    from messaging.services.direct import get_or_create_direct_room

    direct, _ = get_or_create_direct_room(sender=alice, usernames=["bob"])
    secret = say(direct, alice, "quince tart recipe for bob only")
    assert found(alice, "quince") == [("message", secret.pk)]
    assert found(bob, "quince") == [("message", secret.pk)]
    assert found(carol, "quince") == []
    assert found(carol, "from:@alice quince") == []

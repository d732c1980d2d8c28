"""Two organizations, Acme (alice, bob) and Globex (dave, erin), each with a board, a room
and a task. Nothing of one is visible, pickable or reachable from the other, at any
interface: pages, JSON, sockets, autocomplete, mentions and notifications, the admin. An
outsider's username gets the same answer as a name nobody has."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client
from django.urls import reverse

from kanban import services as kanban_services
from kanban.models import Board
from messaging.models import ChatMessage, Notification
from messaging.routing import websocket_urlpatterns
from messaging.services.posting import post_chat_message
from tests.admin_forms import change_form_data
from tests.factories import (
    BoardFactory,
    ChatRoomFactory,
    ColumnFactory,
    OrganizationFactory,
    TaskFactory,
    UserFactory,
)
from tests.security_routes import FAST_HASHERS, snapshot


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


class Side:
    def __init__(self, name: str, owner, member) -> None:
        self.org = OrganizationFactory(name=name, owner=owner, members=[member])
        self.owner, self.member = owner, member
        self.board = BoardFactory(created_by=owner, organization=self.org, members=[member])
        self.room = ChatRoomFactory(board=self.board, created_by=owner, members=[member])
        self.task = TaskFactory(column=ColumnFactory(board=self.board), created_by=owner)


@pytest.fixture
def acme(db, alice, bob) -> Side:
    return Side("Acme", alice, bob)


@pytest.fixture
def globex(db) -> Side:
    return Side("Globex", UserFactory(username="dave"), UserFactory(username="erin"))


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def pages(side: Side) -> list[str]:
    return [
        side.board.get_absolute_url(),
        reverse("kanban:board_members", args=[side.board.pk]),
        reverse("messaging:room_list", args=[side.board.pk]),
        side.room.get_absolute_url(),
        side.task.get_absolute_url(),
        reverse("messaging:task_comments", args=[side.task.pk]),
        side.org.get_absolute_url(),
        reverse("orgs:audit", args=[side.org.slug]),
    ]


def json_endpoints(side: Side) -> list[str]:
    mentions = reverse("messaging:mentions")
    return [
        reverse("kanban:board_state", args=[side.board.pk]),
        reverse("messaging:room_history", args=[side.room.pk]),
        reverse("messaging:task_comment_history", args=[side.task.pk]),
        f"{mentions}?board={side.board.pk}&q=",
        f"{mentions}?room={side.room.pk}&q=",
    ]


@pytest.mark.parametrize("direction", ["acme->globex", "globex->acme"])
def test_pages_and_json_of_the_other_organization_are_404(acme, globex, direction):
    me, them = (acme, globex) if direction == "acme->globex" else (globex, acme)
    for user in (me.owner, me.member):
        client = client_of(user)
        for url in pages(them) + json_endpoints(them):
            assert client.get(url).status_code == 404, f"{user} GET {url}"
        # ... while their own side answers.
        assert client.get(me.board.get_absolute_url()).status_code == 200


def test_my_boards_and_organizations_show_only_my_side(acme, globex):
    client = client_of(acme.member)
    boards = client.get(reverse("kanban:board_list")).content.decode()
    assert acme.board.name in boards and globex.board.name not in boards
    orgs = client.get(reverse("orgs:list")).content.decode()
    assert "Acme" in orgs and "Globex" not in orgs


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_sockets_of_the_other_organization_are_refused(acme, globex):
    async def accepted(user, path) -> bool:
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
        communicator.scope["user"] = user
        ok, _ = await communicator.connect(timeout=3)
        if ok:
            await communicator.disconnect()
        return ok

    try:
        for user in (globex.owner, globex.member):
            assert not await accepted(user, f"/ws/board/{acme.board.pk}/")
            assert not await accepted(user, f"/ws/chat-room/{acme.room.pk}/")
            assert not await accepted(user, f"/ws/task-comments/{acme.task.pk}/")
        assert await accepted(acme.member, f"/ws/board/{acme.board.pk}/")
        assert await accepted(acme.member, f"/ws/chat-room/{acme.room.pk}/")
    finally:
        await sync_to_async(connections.close_all)()


def test_adding_an_outsider_to_a_board_answers_like_a_name_nobody_has(acme, globex):
    client = client_of(acme.owner)
    url = reverse("kanban:board_members", args=[acme.board.pk])
    before = snapshot()

    outsider = client.post(url, {"username": "dave"})
    nobody = client.post(url, {"username": "nobody"})

    assert outsider.status_code == nobody.status_code == 400
    assert "No user named “dave”." in outsider.content.decode()
    assert "No user named “nobody”." in nobody.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize("by", ["username", "id"])
def test_adding_an_outsider_to_a_room_answers_like_a_name_nobody_has(acme, globex, by):
    client = client_of(acme.owner)
    url = reverse("messaging:room_members", args=[acme.room.pk])
    before = snapshot()
    outsider = globex.member.username if by == "username" else globex.member.pk
    nobody = "nobody" if by == "username" else 987654

    answers = [
        client.post(url, {"action": "add", "user": who}, HTTP_ACCEPT="application/json")
        for who in (outsider, nobody)
    ]

    assert [a.status_code for a in answers] == [400, 400]
    assert answers[0].json() == answers[1].json()
    assert snapshot() == before


def test_a_board_cannot_be_created_in_someone_elses_organization(acme, globex):
    response = client_of(acme.owner).post(
        reverse("kanban:board_create"), {"name": "Sneaky", "organization": globex.org.pk}
    )
    assert response.status_code == 200
    assert not Board.objects.filter(name="Sneaky").exists()


def test_board_services_refuse_an_outsider_and_another_organization(acme, globex):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="No user named “erin”"):
        kanban_services.add_member(board=acme.board, username="erin", added_by=acme.owner)
    with pytest.raises(ValidationError, match="your own organizations"):
        kanban_services.create_board(name="x", created_by=acme.owner, organization=globex.org)


def test_autocomplete_never_offers_the_other_organization(acme, globex):
    client = client_of(acme.owner)
    for scope, target in (("board", acme.board.pk), ("room", acme.room.pk)):
        for prefix in ("", "d", "e", "er"):
            response = client.get(reverse("messaging:mentions"), {scope: target, "q": prefix})
            names = {row["username"] for row in response.json()["results"]}
            assert not names & {"dave", "erin"}, (scope, prefix, names)


def test_mentioning_an_outsider_notifies_nobody(acme, globex, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = post_chat_message(
            room=acme.room, author=acme.owner, content="@dave @erin @bob look"
        )
    assert list(message.mentioned_users.values_list("username", flat=True)) == ["bob"]
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["bob"]
    assert not Notification.objects.filter(recipient__username__in=["dave", "erin"]).exists()
    assert ChatMessage.objects.filter(chat_room=globex.room).count() == 0


def test_the_admin_cannot_put_an_outsider_in_a_room(acme, globex, client):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    url = reverse("admin:messaging_chatroom_change", args=[acme.room.pk])
    data = change_form_data(
        client.get(url).content.decode(),
        members=[acme.owner.pk, acme.member.pk, globex.member.pk],
    )

    response = client.post(url, data)

    assert response.status_code == 200
    assert "Only members of the board" in response.content.decode()
    assert not acme.room.members.filter(pk=globex.member.pk).exists()


def test_the_admin_cannot_assign_a_task_to_an_outsider(acme, globex, client):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    url = reverse("admin:kanban_task_change", args=[acme.task.pk])
    data = change_form_data(client.get(url).content.decode(), assignee=globex.member.pk)

    response = client.post(url, data)

    assert response.status_code == 200
    assert "is not a member of this board" in response.content.decode()
    acme.task.refresh_from_db()
    assert acme.task.assignee_id is None

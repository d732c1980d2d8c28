"""The API's cast, one per role the issue names, around alice's board "Launch":

- moderator: alice, who created the board and the room #general (she moderates it);
- author: bob, a board and room member who wrote the room's message;
- member: carol, a board and room member (not the author, not a moderator);
- stranger: erin, in alice's organization but on neither the board nor the room;
- other_org: dave, in another organization, with a board of his own;
- read_token: bob's token with the read scope only;
- revoked_token: bob's token, revoked.
frank is a board member outside the room (someone to add to it). Each role calls the API
with a token of its own (read and write)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from rest_framework.test import APIClient

from api.tokens import create_token, revoke_token
from messaging.models import Notification
from messaging.services.notifications import create_mention_notifications
from messaging.services.posting import post_chat_message
from tests.factories import (
    BoardFactory,
    ChatRoomFactory,
    ColumnFactory,
    OrganizationFactory,
    TaskFactory,
    TaskThreadCommentFactory,
    UserFactory,
    join_organization,
)

ROLES = ("author", "moderator", "member", "stranger", "other_org", "read_token", "revoked_token")


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, settings):
    if request.node.get_closest_marker("browser"):
        return
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Cast:
    users: dict = field(default_factory=dict)
    secrets: dict = field(default_factory=dict)
    board: object = None
    column: object = None
    empty_column: object = None
    task: object = None
    comment: object = None
    room: object = None
    message: object = None
    notification: object = None
    frank: object = None

    def client(self, role: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.secrets[role]}")
        return client

    def user(self, role: str):
        return self.users["author" if role.endswith("_token") else role]


@pytest.fixture
def cast(db) -> Cast:
    alice = UserFactory(username="alice", display_name="Alice A.")
    bob = UserFactory(username="bob", display_name="Bob B.")
    carol = UserFactory(username="carol")
    erin = UserFactory(username="erin")
    frank = UserFactory(username="frank")
    dave = UserFactory(username="dave")
    acme = OrganizationFactory(name="Acme", owner=alice, members=[bob, carol, erin, frank])
    globex = OrganizationFactory(name="Globex", owner=dave)
    board = BoardFactory(
        name="Launch", created_by=alice, organization=acme, members=[bob, carol, frank]
    )
    BoardFactory(name="Dave's", created_by=dave, organization=globex)
    join_organization(acme, alice)
    column = ColumnFactory(board=board, name="To Do", position=0)
    empty_column = ColumnFactory(board=board, name="Later", position=1)
    task = TaskFactory(column=column, title="Ship it", position=0)
    room = ChatRoomFactory(board=board, name="general", created_by=alice, members=[bob, carol])
    message = post_chat_message(room=room, author=bob, content="hello from bob")
    mention = post_chat_message(room=room, author=alice, content="@bob look")
    # What the Celery task does after commit (the test's transaction never commits).
    create_mention_notifications(kind="chat_message", object_id=mention.pk)  # notifies bob
    cast = Cast(
        users={
            "author": bob,
            "moderator": alice,
            "member": carol,
            "stranger": erin,
            "other_org": dave,
        },
        board=board,
        column=column,
        empty_column=empty_column,
        task=task,
        comment=TaskThreadCommentFactory(task=task, author=bob, content="a comment"),
        room=room,
        message=message,
        notification=Notification.objects.get(recipient=bob),
        frank=frank,
    )
    for role, user in cast.users.items():
        cast.secrets[role] = create_token(user=user, name=role, scopes=["write"])[1]
    cast.secrets["read_token"] = create_token(user=bob, name="ro", scopes=["read"])[1]
    revoked, cast.secrets["revoked_token"] = create_token(user=bob, name="old", scopes=["write"])
    revoke_token(token=revoked, revoked_by=bob)
    return cast

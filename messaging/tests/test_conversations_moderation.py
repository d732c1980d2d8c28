"""Who may delete someone else's message or comment (issue 10), one test per rule: the room's
creator, the board's creator and the organization's owners and admins moderate a board room;
in a direct room only the organization's owners and admins do; a task thread is moderated by
the board's creator and the organization's managers. Every moderator's deletion of someone
else's post is written to the organization's audit log, without the deleted text; an author
deleting their own post is not a moderation and writes nothing."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import AuditLog, Membership
from messaging.services.direct import get_or_create_direct_room
from messaging.services.editing import delete_chat_message, delete_task_comment
from messaging.services.posting import post_chat_message, post_task_comment
from tests.factories import (
    BoardFactory,
    ChatRoomFactory,
    ColumnFactory,
    OrganizationFactory,
    TaskFactory,
    UserFactory,
    join_organization,
)

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def org(db) -> SimpleNamespace:
    """One organization, each person holding exactly one of the roles that matter: `owner`
    and `admin` manage it; `boss` created the board; `host` created the room on it; `writer`
    and `plain` are members with no say over others' posts. All of them are in the room."""
    people = {
        name: UserFactory(username=name)
        for name in ("owner", "admin", "boss", "host", "writer", "plain")
    }
    organization = OrganizationFactory(name="Acme", owner=people["owner"])
    join_organization(organization, people["admin"], role=Membership.Role.ADMIN)
    others = [people[n] for n in ("owner", "admin", "host", "writer", "plain")]
    board = BoardFactory(
        name="Launch", created_by=people["boss"], organization=organization, members=others
    )
    everyone_but_host = [p for name, p in people.items() if name != "host"]
    room = ChatRoomFactory(
        board=board, name="general", created_by=people["host"], members=everyone_but_host
    )
    task = TaskFactory(column=ColumnFactory(board=board), title="Ship it")
    return SimpleNamespace(organization=organization, board=board, room=room, task=task, **people)


def audit_rows() -> list[tuple]:
    return list(
        AuditLog.objects.filter(action=AuditLog.Action.MESSAGE_DELETED)
        .values_list("organization_id", "actor__username", "target_type", "target_id", "changes")
        .order_by("pk")
    )


@pytest.mark.parametrize("moderator", ["host", "boss", "owner", "admin"])
def test_room_moderators_delete_someone_elses_message_and_it_is_audited(org, moderator):
    message = post_chat_message(room=org.room, author=org.writer, content="off topic secret")
    delete_chat_message(message=message, deleted_by=getattr(org, moderator))
    message.refresh_from_db()
    assert (message.is_deleted, message.content) == (True, "")
    assert audit_rows() == [
        (org.organization.pk, moderator, "chatmessage", message.pk, {"author": "writer"})
    ]
    entry = AuditLog.objects.get(action=AuditLog.Action.MESSAGE_DELETED)
    assert "secret" not in f"{entry.target_label} {entry.changes}"


def test_a_plain_member_cannot_delete_someone_elses_message(org):
    message = post_chat_message(room=org.room, author=org.writer, content="keep")
    with pytest.raises(ValidationError) as caught:
        delete_chat_message(message=message, deleted_by=org.plain)
    assert caught.value.code == "forbidden"
    message.refresh_from_db()
    assert not message.is_deleted and audit_rows() == []


def test_an_author_deleting_their_own_message_writes_no_audit_entry(org):
    message = post_chat_message(room=org.room, author=org.writer, content="mine")
    delete_chat_message(message=message, deleted_by=org.writer)
    assert audit_rows() == []


def test_a_moderator_who_left_the_room_cannot_delete_in_it(org):
    """Moderating needs reading: the board's creator, out of the room, gets "not a member"."""
    org.room.members.remove(org.boss)
    message = post_chat_message(room=org.room, author=org.writer, content="keep")
    with pytest.raises(ValidationError):
        delete_chat_message(message=message, deleted_by=org.boss)
    message.refresh_from_db()
    assert not message.is_deleted and audit_rows() == []


def test_in_a_direct_room_only_organization_managers_moderate(org):
    """Whoever opened a direct room is not in charge of the others' messages."""
    room, _ = get_or_create_direct_room(sender=org.host, usernames=["writer", "admin"])
    message = post_chat_message(room=room, author=org.writer, content="between us")
    with pytest.raises(ValidationError) as caught:
        delete_chat_message(message=message, deleted_by=org.host)
    assert caught.value.code == "forbidden"
    delete_chat_message(message=message, deleted_by=org.admin)
    message.refresh_from_db()
    assert message.is_deleted
    assert audit_rows() == [
        (org.organization.pk, "admin", "chatmessage", message.pk, {"author": "writer"})
    ]


@pytest.mark.parametrize(("who", "allowed"), [("boss", True), ("admin", True), ("host", False)])
def test_task_comment_moderators(org, who, allowed):
    """A task thread has no room creator: the board's creator and the organization's
    managers moderate it."""
    comment = post_task_comment(task=org.task, author=org.writer, content="noise")
    if allowed:
        delete_task_comment(comment=comment, deleted_by=getattr(org, who))
        assert audit_rows() == [
            (org.organization.pk, who, "taskthreadcomment", comment.pk, {"author": "writer"})
        ]
    else:
        with pytest.raises(ValidationError) as caught:
            delete_task_comment(comment=comment, deleted_by=getattr(org, who))
        assert caught.value.code == "forbidden" and audit_rows() == []
    comment.refresh_from_db()
    assert comment.is_deleted is allowed


def test_moderation_over_http_is_audited_and_a_plain_member_gets_403(org, client_for):
    message = post_chat_message(room=org.room, author=org.writer, content="spam")
    url = reverse("messaging:message_delete", args=[message.pk])
    refused = client_for(org.plain).post(url, **JSON)
    assert refused.status_code == 403
    assert refused.json() == {"error": "You can only delete your own messages."}
    answer = client_for(org.host).post(url, **JSON)
    assert answer.status_code == 200 and answer.json()["is_deleted"] is True
    assert [row[1] for row in audit_rows()] == ["host"]
    comment = post_task_comment(task=org.task, author=org.writer, content="spam")
    url = reverse("messaging:comment_delete", args=[comment.pk])
    assert client_for(org.plain).post(url, **JSON).status_code == 403
    assert client_for(org.boss).post(url, **JSON).status_code == 200
    assert [row[1] for row in audit_rows()] == ["host", "boss"]

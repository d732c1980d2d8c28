"""The admin renders every messaging model and moderates by deleting."""

from __future__ import annotations

import pytest
from django.urls import reverse

from messaging.models import ChatMessage, Notification, UserTypingStatus
from messaging.services.posting import post_chat_message, post_task_comment
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def content(room, task, alice, bob):
    from django.utils import timezone

    message = post_chat_message(room=room, author=alice, content="<b>hello</b> @bob")
    comment = post_task_comment(task=task, author=bob, content="comment @alice")
    Notification.objects.create(recipient=bob, sender=alice, text="hi", chat_message=message)
    UserTypingStatus.objects.create(chat_room=room, user=bob, last_update=timezone.now())
    return {"message": message, "comment": comment}


@pytest.mark.parametrize(
    "model", ["chatroom", "chatmessage", "taskthreadcomment", "notification", "usertypingstatus"]
)
def test_changelist_renders_and_searches(admin_client, content, model):
    url = reverse(f"admin:messaging_{model}_changelist")
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, {"q": "bob"}).status_code == 200


def test_room_page_shows_its_newest_messages_inline(admin_client, room, content):
    response = admin_client.get(reverse("admin:messaging_chatroom_change", args=[room.pk]))
    assert response.status_code == 200
    assert "&lt;b&gt;hello&lt;/b&gt; @bob" in response.content.decode()


def test_messages_are_view_only_and_deletable(admin_client, content):
    message = content["message"]
    change = reverse("admin:messaging_chatmessage_change", args=[message.pk])
    assert admin_client.get(change).status_code == 200
    assert admin_client.get(reverse("admin:messaging_chatmessage_add")).status_code == 403

    delete = reverse("admin:messaging_chatmessage_delete", args=[message.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    # Through the editing service: a tombstone without text, audited.
    message = ChatMessage.objects.get()
    assert (message.is_deleted, message.content) == (True, "")
    from accounts.models import AuditLog

    assert AuditLog.objects.filter(action="message.deleted", target_id=message.pk).exists()
    # The text has left the admin too: its lists, the "deleted" message, Recent actions.
    listing = admin_client.get(reverse("admin:messaging_chatmessage_changelist"))
    assert "hello" not in listing.content.decode()
    assert "hello" not in admin_client.get(reverse("admin:index")).content.decode()


def test_bulk_deletion_in_the_admin_leaves_no_text_in_its_log(admin_client, content):
    from django.contrib.admin.models import LogEntry

    comment = content["comment"]
    response = admin_client.post(
        reverse("admin:messaging_taskthreadcomment_changelist"),
        {"action": "delete_selected", "_selected_action": [comment.pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    comment.refresh_from_db()
    assert (comment.is_deleted, comment.content) == (True, "")
    [entry] = LogEntry.objects.all()
    assert entry.object_repr == f"task thread comment {comment.pk}"
    assert "comment @alice" not in response.content.decode()


def test_admin_shows_direct_rooms_replies_and_edit_history(admin_client, room, alice, bob):
    from messaging.services.direct import get_or_create_direct_room
    from messaging.services.editing import edit_chat_message

    direct, _ = get_or_create_direct_room(sender=alice, usernames=["bob"])
    root = post_chat_message(room=room, author=alice, content="root")
    reply = post_chat_message(room=room, author=bob, content="first words", parent_id=root.pk)
    edit_chat_message(message=reply, editor=bob, content="second words")
    rooms = admin_client.get(
        reverse("admin:messaging_chatroom_changelist"), {"room_type": "direct"}
    )
    assert f"/{direct.pk}/change/" in rooms.content.decode()
    messages = admin_client.get(
        reverse("admin:messaging_chatmessage_changelist"), {"parent__isempty": "0"}
    ).content.decode()
    assert "second words" in messages and f"/{root.pk}/change/" not in messages
    page = admin_client.get(reverse("admin:messaging_chatmessage_change", args=[reply.pk]))
    assert "first words" in page.content.decode()  # the earlier version, in the edit history


def test_admin_shows_a_comments_edit_history(admin_client, task, alice):
    from messaging.services.editing import edit_task_comment

    comment = post_task_comment(task=task, author=alice, content="draft wording")
    edit_task_comment(comment=comment, editor=alice, content="final wording")
    page = admin_client.get(reverse("admin:messaging_taskthreadcomment_change", args=[comment.pk]))
    html = page.content.decode()
    assert "edit history" in html.lower() and "draft wording" in html and "final wording" in html


def test_filters_render(admin_client, content):
    url = reverse("admin:messaging_chatmessage_changelist")
    assert admin_client.get(url, {"mentions_notified_at__isempty": "1"}).status_code == 200
    url = reverse("admin:messaging_notification_changelist")
    assert admin_client.get(url, {"is_read__exact": "0"}).status_code == 200

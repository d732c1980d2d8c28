"""Activity notifications (issue 11): a task assigned to you, a comment on your task, being
added to a board or a room; never about your own action, one per person and event; and
dismissing one. Driven through the services people's actions go through (the Celery task
runs eagerly after commit, as in the embedded mode)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kanban import services as kanban_services
from kanban.models import Column
from messaging.models import Notification
from messaging.services import activity
from messaging.services import notifications as notification_services
from messaging.services.posting import post_task_comment
from messaging.services.rooms import add_room_member, create_chat_room
from tests.factories import (
    BoardFactory,
    ChatRoomFactory,
    TaskFactory,
    UserFactory,
    join_organization,
)

Type = Notification.Type


def notes(user, kind=None):
    rows = Notification.objects.filter(recipient=user)
    if kind is not None:
        rows = rows.filter(notification_type=kind)
    return list(rows.order_by("pk"))


def assign(task, assignee, by):
    return kanban_services.update_task(
        task=task,
        title=task.title,
        description=task.description,
        assignee=assignee,
        priority=task.priority,
        due_date=task.due_date,
        updated_by=by,
    )


@pytest.fixture
def column(board):
    return Column.objects.filter(board=board).first() or board.columns.create(name="To Do")


@pytest.fixture
def task(column):
    return TaskFactory(column=column, title="Ship it")


# --- task_assigned ----------------------------------------------------------------------


def test_assigning_a_task_notifies_the_assignee(
    task, alice, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assign(task, bob, alice)

    [note] = notes(bob)
    assert note.notification_type == "task_assigned"
    assert note.text == 'alice assigned you "Ship it" on Launch'
    assert note.sender == alice
    assert note.get_absolute_url() == reverse("kanban:task_detail", args=[task.pk])
    assert not note.is_read
    assert notes(alice) == []


def test_creating_a_task_for_someone_notifies_them(
    column, alice, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        kanban_services.create_task(
            column=column, title="Write docs", created_by=alice, assignee=bob
        )

    assert [n.text for n in notes(bob)] == ['alice assigned you "Write docs" on Launch']


def test_assigning_yourself_notifies_nobody(task, bob, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assign(task, bob, bob)
    assert Notification.objects.count() == 0


def test_saving_a_task_without_changing_the_assignee_notifies_nobody_again(
    task, alice, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assign(task, bob, alice)
    task.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        kanban_services.update_task(
            task=task,
            title="Ship it now",
            description="",
            assignee=bob,
            priority=task.priority,
            due_date=None,
            updated_by=alice,
        )
    assert len(notes(bob)) == 1


def test_a_redelivered_task_creates_the_notification_once(
    task, alice, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assign(task, bob, alice)
    for callback in callbacks:  # the task runs...
        callback()
    for callback in callbacks:  # ...and is delivered again
        callback()
    assert len(notes(bob)) == 1


def test_reassigned_before_the_task_ran_only_the_new_assignee_hears(
    task, alice, bob, carol, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as first:
        assign(task, bob, alice)
    task.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assign(task, carol, alice)
    for callback in first:
        callback()
    assert notes(bob) == []
    assert len(notes(carol, Type.TASK_ASSIGNED)) == 1


def test_an_assignee_removed_from_the_board_before_the_task_ran_hears_nothing(
    task, alice, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assign(task, bob, alice)
    task.refresh_from_db()
    task.column.board.members.remove(bob)  # as if removed in between (the task keeps bob)
    for callback in callbacks:
        callback()
    assert notes(bob) == []


def test_the_service_refuses_an_unknown_kind(alice, bob):
    with pytest.raises(ValueError):
        activity.schedule_activity_notification(
            kind="mention", recipient_id=bob.pk, actor_id=alice.pk, target_id=1, key="x"
        )


# --- task_comment -----------------------------------------------------------------------


def test_a_comment_notifies_the_tasks_creator_and_assignee_not_its_author(
    board, column, alice, bob, carol, django_capture_on_commit_callbacks
):
    task = TaskFactory(column=column, title="Ship it", created_by=carol, assignee=bob)
    with django_capture_on_commit_callbacks(execute=True):
        post_task_comment(task=task, author=alice, content="Looks good to me")

    for person in (bob, carol):
        [note] = notes(person)
        assert note.notification_type == "task_comment"
        assert note.text == 'alice commented on "Ship it": "Looks good to me"'
        assert note.task_thread_comment is not None
    assert notes(alice) == []


def test_commenting_on_your_own_task_notifies_nobody(
    column, alice, django_capture_on_commit_callbacks
):
    task = TaskFactory(column=column, created_by=alice, assignee=alice)
    with django_capture_on_commit_callbacks(execute=True):
        comment = post_task_comment(task=task, author=alice, content="note to self")
    assert Notification.objects.count() == 0
    comment.refresh_from_db()
    assert comment.mentions_notified_at is not None  # nothing owed: not in the sweep's queue


def test_a_mention_of_the_assignee_is_one_notification_a_mention(
    column, alice, bob, django_capture_on_commit_callbacks
):
    task = TaskFactory(column=column, created_by=alice, assignee=bob)
    with django_capture_on_commit_callbacks(execute=True):
        post_task_comment(task=task, author=alice, content="@bob can you look?")
    assert [n.notification_type for n in notes(bob)] == ["mention"]


def test_the_sweep_creates_a_lost_task_comment_notification(
    column, alice, bob, django_capture_on_commit_callbacks
):
    task = TaskFactory(column=column, created_by=alice, assignee=alice)
    with django_capture_on_commit_callbacks(execute=False):  # the broker lost it
        post_task_comment(task=task, author=bob, content="done")
    assert notes(alice) == []

    assert notification_services.sweep_missed_mentions(older_than_seconds=-1) == 1
    assert [n.notification_type for n in notes(alice)] == ["task_comment"]
    assert notification_services.sweep_missed_mentions(older_than_seconds=-1) == 0


# --- board_invite and room_invite -------------------------------------------------------


def test_adding_someone_to_a_board_notifies_them(board, alice, django_capture_on_commit_callbacks):
    dave = UserFactory(username="dave")
    join_organization(board.organization, dave)
    with django_capture_on_commit_callbacks(execute=True):
        kanban_services.add_member(board=board, username="dave", added_by=alice)

    [note] = notes(dave)
    assert note.notification_type == "board_invite"
    assert note.text == "alice added you to the board Launch"
    assert note.get_absolute_url() == board.get_absolute_url()


def test_a_member_removed_and_added_again_is_notified_again(
    board, alice, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        kanban_services.remove_member(board=board, user=bob, removed_by=alice)
        kanban_services.add_member(board=board, username="bob", added_by=alice)
        kanban_services.remove_member(board=board, user=bob, removed_by=alice)
        kanban_services.add_member(board=board, username="bob", added_by=alice)
    assert len(notes(bob, Type.BOARD_INVITE)) == 2


def test_adding_someone_to_a_room_notifies_them(
    board, room, alice, carol, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        add_room_member(room=room, user=carol, added_by=alice)
        add_room_member(room=room, user=carol, added_by=alice)  # already in: no event

    [note] = notes(carol)
    assert note.notification_type == "room_invite"
    assert note.text == "alice added you to #general"
    assert note.get_absolute_url() == room.get_absolute_url()


def test_creating_a_room_notifies_its_members_but_not_its_creator(
    board, alice, bob, carol, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        room = create_chat_room(board=board, created_by=alice, name="design", members=[bob, carol])
    assert [n.chat_room for n in notes(bob)] == [room]
    assert [n.chat_room for n in notes(carol)] == [room]
    assert notes(alice) == []


def test_opening_the_room_reads_its_invitation(
    board, room, alice, carol, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        add_room_member(room=room, user=carol, added_by=alice)
    assert notification_services.mark_read_for_room(user=carol, room=room) == 0


# --- dismiss ----------------------------------------------------------------------------


def test_dismissing_removes_it_from_the_list_and_the_count(
    client_for, board, room, alice, carol, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        add_room_member(room=room, user=carol, added_by=alice)
    [note] = notes(carol)
    client = client_for(carol)
    url = reverse("messaging:notification_dismiss", args=[note.pk])

    response = client.post(url, HTTP_X_REQUESTED_WITH="fetch", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json() == {"success": True, "count": 0}
    page = client.get(reverse("messaging:notifications"))
    assert note.text.encode() not in page.content
    assert client.get(reverse("messaging:notification_count")).json() == {"count": 0}
    # Again: nothing changes.
    assert client.post(url, HTTP_X_REQUESTED_WITH="fetch").json()["count"] == 0


def test_dismissing_without_javascript_redirects_back(client_for, room, alice, bob):
    note = Notification.objects.create(recipient=bob, sender=alice, text="hi")
    response = client_for(bob).post(reverse("messaging:notification_dismiss", args=[note.pk]))
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.dismissed_at is not None and note.is_read


def test_dismissing_someone_elses_notification_is_404(client_for, alice, bob):
    note = Notification.objects.create(recipient=bob, sender=alice, text="hi")
    response = client_for(alice).post(reverse("messaging:notification_dismiss", args=[note.pk]))
    assert response.status_code == 404
    note.refresh_from_db()
    assert note.dismissed_at is None


def test_dismiss_is_post_only(client_for, alice, bob):
    note = Notification.objects.create(recipient=bob, sender=alice, text="hi")
    assert (
        client_for(bob).get(reverse("messaging:notification_dismiss", args=[note.pk])).status_code
        == 405
    )


def test_the_list_of_every_kind_takes_a_constant_number_of_queries(
    client_for, board, room, task, alice, bob, django_assert_max_num_queries
):
    other_board = BoardFactory(created_by=alice, members=[bob])
    other_room = ChatRoomFactory(board=other_board, created_by=alice, members=[bob])
    for i in range(10):
        Notification.objects.create(
            recipient=bob,
            sender=alice,
            text=f"t{i}",
            notification_type=Type.TASK_ASSIGNED,
            task=task,
        )
        Notification.objects.create(
            recipient=bob,
            sender=alice,
            text=f"b{i}",
            notification_type=Type.BOARD_INVITE,
            board=other_board,
        )
        Notification.objects.create(
            recipient=bob,
            sender=alice,
            text=f"r{i}",
            notification_type=Type.ROOM_INVITE,
            chat_room=other_room,
        )
    client = client_for(bob)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("messaging:notifications"))
    assert response.status_code == 200
    assert response.content.count(b'class="notification-dismiss"') == 25  # one page

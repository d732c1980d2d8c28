"""ws/notifications/ frames for issue 11: an activity notification arrives as a
`notification` frame (badge and toast), and a dismissal reaches every tab of the person."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from kanban import services as kanban_services
from messaging.models import Notification
from messaging.routing import websocket_urlpatterns
from messaging.services import notifications as services
from tests.factories import ColumnFactory, TaskFactory

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def connect_and_greet(user, count: int = 0) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/notifications/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_json_from(timeout=2) == {
        "type": "unread_count",
        "count": count,
    }
    return communicator


@database_sync_to_async
def assign(board, assignee, by):
    task = TaskFactory(column=ColumnFactory(board=board), title="Ship it")
    kanban_services.update_task(
        task=task,
        title=task.title,
        description="",
        assignee=assignee,
        priority=task.priority,
        due_date=None,
        updated_by=by,
    )
    return task


async def test_an_assignment_reaches_the_assignees_socket_as_a_notification_frame(
    board, alice, bob, carol
):
    bobs = await connect_and_greet(bob)
    carols = await connect_and_greet(carol)

    task = await assign(board, bob, alice)

    frame = await bobs.receive_json_from(timeout=3)
    note = await database_sync_to_async(Notification.objects.get)(recipient=bob)
    assert frame == {
        "type": "notification",
        "notification_id": note.pk,
        "notification_type": "task_assigned",
        "text": 'alice assigned you "Ship it" on Launch',
        "url": f"/tasks/{task.pk}/",
        "sender": "alice",
        "created_at": frame["created_at"],
        "unread_count": 1,
    }
    assert await carols.receive_nothing(timeout=0.3)
    assert await bobs.receive_nothing(timeout=0.2)  # one frame per event
    await bobs.disconnect()
    await carols.disconnect()


async def test_a_dismissal_reaches_every_tab_with_the_new_count(board, alice, bob):
    await assign(board, bob, alice)
    await assign(board, bob, alice)
    tab1 = await connect_and_greet(bob, count=2)
    tab2 = await connect_and_greet(bob, count=2)
    note = await database_sync_to_async(
        lambda: Notification.objects.filter(recipient=bob).order_by("pk").first()
    )()

    await database_sync_to_async(services.dismiss_notification)(notification=note, user=bob)

    for tab in (tab1, tab2):
        assert await tab.receive_json_from(timeout=2) == {
            "type": "notification_dismissed",
            "notification_id": note.pk,
            "unread_count": 1,
        }

    # Dismissing it again changes nothing and pushes nothing.
    await database_sync_to_async(services.dismiss_notification)(notification=note, user=bob)
    for tab in (tab1, tab2):
        assert await tab.receive_nothing(timeout=0.2)
        await tab.disconnect()

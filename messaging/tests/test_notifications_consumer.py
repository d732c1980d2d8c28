"""ws/notifications/: the live badge and toasts."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from messaging import realtime
from messaging.consumers.base import ACCESS_GONE
from messaging.models import Notification
from messaging.routing import websocket_urlpatterns
from messaging.services import notifications as services
from tests.factories import ChatMessageFactory

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

PATH = "/ws/notifications/"


async def connect(user) -> WebsocketCommunicator:
    """A socket through the real URL routes, with `user` as the authenticated scope user."""
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), PATH)
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def connect_and_greet(user, count: int = 0) -> WebsocketCommunicator:
    communicator = await connect(user)
    assert await communicator.receive_json_from(timeout=2) == {
        "type": "unread_count",
        "count": count,
    }
    return communicator


@database_sync_to_async
def mention(room, author, recipient, content: str = "@bob hi") -> Notification:
    """Post-like: a message mentioning `recipient`, then the Celery task's body (commits)."""
    message = ChatMessageFactory(chat_room=room, author=author, content=content)
    message.mentioned_users.add(recipient)
    services.create_mention_notifications(kind="chat_message", object_id=message.pk)
    return Notification.objects.select_related("chat_message").get(chat_message=message)


async def test_anonymous_is_refused_without_accept(db):
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), PATH)
    communicator.scope["user"] = AnonymousUser()
    connected, _ = await communicator.connect()
    assert not connected


async def test_inactive_user_is_refused(bob):
    bob.is_active = False
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), PATH)
    communicator.scope["user"] = bob
    connected, _ = await communicator.connect()
    assert not connected


async def test_sends_unread_count_on_connect(room, alice, bob):
    await mention(room, alice, bob)
    await mention(room, alice, bob, "@bob again")

    communicator = await connect_and_greet(bob, count=2)
    await communicator.disconnect()


async def test_notification_frame_is_pushed_when_a_mention_is_created(room, alice, bob):
    communicator = await connect_and_greet(bob)

    notification = await mention(room, alice, bob, "@bob look at this")

    frame = await communicator.receive_json_from(timeout=2)
    assert frame["type"] == "notification"
    assert frame["notification_id"] == notification.pk
    assert frame["unread_count"] == 1
    assert frame["sender"] == "alice"
    assert frame["text"] == 'alice mentioned you in #general: "@bob look at this"'
    assert frame["url"] == notification.get_absolute_url()
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_other_users_sockets_get_nothing(room, alice, bob, carol):
    carols = await connect_and_greet(carol)

    await mention(room, alice, bob)

    assert await carols.receive_nothing(timeout=0.3)
    await carols.disconnect()


async def test_unread_count_after_mark_read_reaches_every_socket_of_the_user(room, alice, bob):
    first = await mention(room, alice, bob)
    await mention(room, alice, bob, "@bob two")
    tab1 = await connect_and_greet(bob, count=2)
    tab2 = await connect_and_greet(bob, count=2)

    await database_sync_to_async(services.mark_notification_read)(notification=first, user=bob)

    for tab in (tab1, tab2):
        assert await tab.receive_json_from(timeout=2) == {"type": "unread_count", "count": 1}

    await database_sync_to_async(services.mark_all_read)(user=bob)

    for tab in (tab1, tab2):
        assert await tab.receive_json_from(timeout=2) == {"type": "unread_count", "count": 0}
        await tab.disconnect()


async def test_two_sockets_of_the_same_user_both_get_the_notification(room, alice, bob):
    tab1 = await connect_and_greet(bob)
    tab2 = await connect_and_greet(bob)

    await mention(room, alice, bob)

    for tab in (tab1, tab2):
        frame = await tab.receive_json_from(timeout=2)
        assert (frame["type"], frame["unread_count"]) == ("notification", 1)
        await tab.disconnect()


async def test_deactivated_user_is_closed_on_access_change(bob):
    communicator = await connect_and_greet(bob)

    @database_sync_to_async
    def deactivate() -> None:
        type(bob).objects.filter(pk=bob.pk).update(is_active=False)
        realtime.signal_access_changed_on_commit(bob.pk)

    await deactivate()

    error = await communicator.receive_json_from(timeout=2)
    assert error["type"] == "error"
    assert error["code"] == "access_gone"
    assert await communicator.receive_output(timeout=2) == {
        "type": "websocket.close",
        "code": ACCESS_GONE,
    }


async def test_access_change_for_an_active_user_keeps_the_socket(bob):
    communicator = await connect_and_greet(bob)

    await database_sync_to_async(realtime.signal_access_changed_on_commit)(bob.pk)

    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_client_frames_get_an_error_not_a_crash(bob):
    communicator = await connect_and_greet(bob)

    await communicator.send_to(text_data='{"type": "chat_message", "message": "hi"}')

    assert (await communicator.receive_json_from(timeout=2))["type"] == "error"
    await communicator.disconnect()


# --- the real ASGI stack: session cookie, origin check, logout --------------------------


async def test_real_stack_authenticates_by_session_and_logout_closes(bob, client):
    from django.conf import settings
    from django.contrib.sessions.models import Session

    from kanban_board.asgi import application

    await database_sync_to_async(client.force_login)(bob)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    headers = [
        (b"cookie", cookie.encode()),
        (b"origin", b"http://127.0.0.1"),
        (b"host", b"127.0.0.1"),
    ]

    communicator = WebsocketCommunicator(application, PATH, headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_json_from(timeout=2) == {"type": "unread_count", "count": 0}

    @database_sync_to_async
    def log_out() -> None:  # what accounts.services.log_out does to the session store
        Session.objects.all().delete()
        realtime.signal_access_changed_on_commit(bob.pk)

    await log_out()

    assert (await communicator.receive_json_from(timeout=2))["code"] == "access_gone"
    assert (await communicator.receive_output(timeout=2))["code"] == ACCESS_GONE

    same_origin = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    anonymous = WebsocketCommunicator(application, PATH, headers=same_origin)
    connected, _ = await anonymous.connect()
    assert not connected


async def test_real_stack_refuses_a_foreign_origin(bob, client):
    from django.conf import settings

    from kanban_board.asgi import application

    await database_sync_to_async(client.force_login)(bob)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    headers = [
        (b"cookie", cookie.encode()),
        (b"origin", b"https://evil.example"),
        (b"host", b"127.0.0.1"),
    ]

    communicator = WebsocketCommunicator(application, PATH, headers=headers)
    connected, _ = await communicator.connect()
    assert not connected

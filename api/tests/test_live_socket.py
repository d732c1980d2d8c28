"""An API post reaches an open room socket, like a post from the page: the same service
broadcasts it after commit (WebsocketCommunicator on the real consumer and URL router)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from messaging.tests.sockets import connected, frame, room_path

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_worker_thread_connections"),
]

from messaging.tests.sockets import close_worker_thread_connections  # noqa: E402, F401


async def test_api_post_reaches_a_live_socket(cast):
    carol = cast.users["member"]
    socket = await connected(carol, room_path(cast.room))

    def post_over_the_api():
        return cast.client("author").post(
            f"/api/v1/chat/rooms/{cast.room.pk}/messages/",
            {"content": "over the API @carol"},
            format="json",
        )

    response = await sync_to_async(post_over_the_api)()
    assert response.status_code == 201
    received = await frame(socket)
    assert received["type"] == "chat_message"
    assert received["message_id"] == response.json()["id"]
    assert received["message"] == "over the API @carol"
    assert received["username"] == "bob"
    assert received["mentioned_users"] == ["carol"]
    await socket.disconnect()


async def test_api_edit_and_delete_reach_a_live_socket(cast):
    socket = await connected(cast.users["member"], room_path(cast.room))
    client = cast.client("author")
    url = f"/api/v1/chat/messages/{cast.message.pk}/"

    edited = await sync_to_async(client.patch)(url, {"content": "changed"}, format="json")
    assert edited.status_code == 200
    received = await frame(socket)
    assert (received["type"], received["message"]) == ("message_edited", "changed")

    deleted = await sync_to_async(client.delete)(url)
    assert deleted.status_code == 204
    received = await frame(socket)
    assert (received["type"], received["message_id"]) == ("message_deleted", cast.message.pk)
    await socket.disconnect()

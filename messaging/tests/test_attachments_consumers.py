"""Files over the WebSocket interface (issue 12): `attachment_ids` on chat and comment
frames, error frames that save nothing, payloads carrying `attachments`, `attachment_ready`
live, and a removed member's socket."""

from __future__ import annotations

import io

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from PIL import Image

from kanban.services import remove_member
from messaging.consumers.base import ACCESS_GONE
from messaging.models import Attachment, ChatMessage, TaskThreadComment
from messaging.services import attachments as service
from messaging.tests.sockets import connected, frame, room_path, send, task_path
from tests.factories import UserFactory

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest_asyncio.fixture(autouse=True)
async def _close_worker_thread_connections():
    yield
    await sync_to_async(connections.close_all)()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 20), (0, 200, 0)).save(out, format="PNG")
    return out.getvalue()


@sync_to_async
def make_upload(user, organization_id, data=b"report", name="r.txt", previews=True) -> int:
    attachment = service.create_attachment(
        upload=SimpleUploadedFile(name, data), uploader=user, organization_id=organization_id
    )  # outside a transaction: the preview task (eager) runs at once unless deferred
    return attachment.pk


async def test_chat_frame_with_files_and_no_text(room, alice, bob):
    org = room.board.organization_id
    first = await make_upload(alice, org, b"abc", "a.txt")
    image = await make_upload(alice, org, _png(), "shot.png")
    a = await connected(alice, room_path(room))
    b = await connected(bob, room_path(room))
    assert (await frame(a))["type"] == "user_join"
    await send(a, {"type": "chat_message", "attachment_ids": [image, first]})
    got = await frame(b)
    assert got["type"] == "chat_message" and got["message"] == ""
    assert [x["id"] for x in got["attachments"]] == [image, first]
    assert got["attachments"][0]["thumbnail_url"] == f"/messaging/attachments/{image}/thumbnail/"
    assert (got["attachments"][0]["width"], got["attachments"][0]["height"]) == (30, 20)
    assert got["attachments"][1]["content_type"] == "text/plain"
    await a.disconnect()
    await b.disconnect()


@pytest.mark.parametrize(
    "ids",
    [["1"], "7", [True], [0], list(range(1, 12)), None],
    ids=["strings", "not-a-list", "bool", "zero", "eleven", "someone-elses"],
)
async def test_bad_attachment_ids_get_an_error_frame_and_save_nothing(ids, room, alice, bob):
    theirs = await make_upload(bob, room.board.organization_id)
    a = await connected(alice, room_path(room))
    await send(a, {"type": "chat_message", "message": "hi", "attachment_ids": ids or [theirs]})
    got = await frame(a)
    assert got["type"] == "error" and got["message"]
    assert await sync_to_async(ChatMessage.objects.count)() == 0
    assert await sync_to_async(Attachment.objects.filter(attached_at__isnull=False).count)() == 0
    await send(a, {"type": "chat_message", "message": "still alive"})
    assert (await frame(a))["type"] == "chat_message"
    await a.disconnect()


async def test_comment_frame_with_files(task, alice, carol):
    upload = await make_upload(alice, task.column.board.organization_id, b"spec", "spec.md")
    a = await connected(alice, task_path(task))
    c = await connected(carol, task_path(task))
    await send(a, {"type": "comment", "attachment_ids": [upload]})
    got = await frame(c)
    assert got["type"] == "new_comment" and got["comment"] == ""
    assert got["attachments"][0]["name"] == "spec.md"
    assert await sync_to_async(TaskThreadComment.objects.count)() == 1
    await a.disconnect()
    await c.disconnect()


async def test_other_organization_upload_cannot_be_sent(room, alice):
    elsewhere = await sync_to_async(
        lambda: __import__("tests.factories").factories.OrganizationFactory(owner=alice).pk
    )()
    upload = await make_upload(alice, elsewhere)
    a = await connected(alice, room_path(room))
    await send(a, {"type": "chat_message", "message": "x", "attachment_ids": [upload]})
    assert (await frame(a))["type"] == "error"
    assert await sync_to_async(ChatMessage.objects.count)() == 0
    await a.disconnect()


async def test_attachment_ready_reaches_the_room_live(room, alice, bob, settings):
    """The preview is made after the message was sent (a slow worker): the room hears
    attachment_ready with the thumbnail."""
    from kanban_board.celery import app as celery_app

    celery_app.conf.task_always_eager = False  # queue it (memory broker) instead of running
    try:
        image = await make_upload(alice, room.board.organization_id, _png(), "late.png")
    finally:
        celery_app.conf.task_always_eager = True
    a = await connected(alice, room_path(room))
    b = await connected(bob, room_path(room))
    assert (await frame(a))["type"] == "user_join"
    await send(a, {"type": "chat_message", "message": "", "attachment_ids": [image]})
    sent = await frame(b)
    assert sent["attachments"][0]["thumbnail_url"] is None  # placeholder for now
    assert await sync_to_async(service.make_previews)(image) == "ready"
    ready = await frame(b)
    assert ready["type"] == "attachment_ready"
    assert ready["message_id"] == sent["message_id"]
    assert ready["attachment"]["id"] == image and ready["attachment"]["thumbnail_url"]
    await a.disconnect()
    await b.disconnect()


async def test_removed_member_socket_closes_and_download_is_404(room, alice, bob, client_for):
    upload = await make_upload(alice, room.board.organization_id)
    a = await connected(alice, room_path(room))
    b = await connected(bob, room_path(room))
    assert (await frame(a))["type"] == "user_join"
    await send(a, {"type": "chat_message", "message": "file", "attachment_ids": [upload]})
    assert (await frame(b))["attachments"][0]["id"] == upload
    bob_http = await sync_to_async(client_for)(bob)
    url = f"/messaging/attachments/{upload}/"
    assert (await sync_to_async(bob_http.get)(url)).status_code == 200
    await sync_to_async(remove_member)(board=room.board, user=bob, removed_by=alice)
    # bob's socket: at most a leftover frame or two, then the access close
    for _ in range(3):
        output = await b.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            break
    assert output == {"type": "websocket.close", "code": ACCESS_GONE}
    assert (await sync_to_async(bob_http.get)(url)).status_code == 404
    await send(a, {"type": "chat_message", "message": "still here"})
    # Her own "file" (and presence frames) come first; then her new message: still open.
    for _ in range(5):
        if (await frame(a)).get("message") == "still here":
            break
    else:
        raise AssertionError("alice's socket did not get her message")
    await a.disconnect()


async def test_outsider_cannot_connect_to_read_files(room):
    dave = await sync_to_async(UserFactory)(username="dave2")
    from messaging.tests.sockets import socket_for

    ok, _ = await socket_for(dave, room_path(room)).connect(timeout=3)
    assert not ok


async def test_member_of_another_organization_cannot_connect(room, alice):
    """Erin belongs to another organization: the room's socket (which carries the files'
    payloads) refuses her."""
    from messaging.tests.sockets import socket_for
    from tests.factories import OrganizationFactory

    erin = await sync_to_async(UserFactory)(username="erin")
    await sync_to_async(OrganizationFactory)(owner=erin)
    ok, _ = await socket_for(erin, room_path(room)).connect(timeout=3)
    assert not ok

"""Image previews made by a REAL Celery worker process (issue 12, worker tier): the room hears
`attachment_ready`, and hostile images sent first (a decompression bomb, a truncated PNG, a
JPEG/HTML polyglot) do not crash the worker."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from messaging import realtime
from messaging.models import Attachment
from messaging.services.attachments import create_attachment
from messaging.services.posting import post_chat_message
from tests.factories import BoardFactory, ChatRoomFactory
from tests.live import publishing_to, wait_for

pytestmark = pytest.mark.worker


@pytest.fixture
def team(transactional_db, alice, bob):
    board = BoardFactory(created_by=alice, members=[bob])
    return ChatRoomFactory(board=board, created_by=alice, name="General", members=[bob])


def _png(size, mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, format="PNG")
    return out.getvalue()


def _polyglot() -> bytes:
    """A valid JPEG whose comment segment is an HTML page."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(out, format="JPEG")
    data = out.getvalue()
    html = b"<html><script>alert(1)</script></html>"
    return data[:2] + b"\xff\xfe" + (len(html) + 2).to_bytes(2, "big") + html + data[2:]


def test_real_worker_makes_previews_and_survives_hostile_images(
    team,
    alice,
    bob,
    broker_url,
    worker_factory,
    settings,
    tmp_path,
):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [broker_url]},
        }
    }
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    inbox = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(realtime.room_group(team.pk), inbox)
    worker = worker_factory(MEDIA_ROOT=str(tmp_path)).start()
    org = team.board.organization_id

    with publishing_to(broker_url):
        bomb = create_attachment(
            upload=SimpleUploadedFile("bomb.png", _png((20_000, 20_000), "1")),
            uploader=alice,
            organization_id=org,
        )
        truncated = create_attachment(
            upload=SimpleUploadedFile("broken.png", b"\x89PNG\r\n\x1a\nnot really"),
            uploader=alice,
            organization_id=org,
        )
        polyglot = create_attachment(
            upload=SimpleUploadedFile("photo.jpg", _polyglot()),
            uploader=alice,
            organization_id=org,
        )
        photo = create_attachment(
            upload=SimpleUploadedFile("photo.png", _png((900, 600))),
            uploader=alice,
            organization_id=org,
        )
        message = post_chat_message(
            room=team, author=alice, content="", attachment_ids=[bomb.pk, photo.pk]
        )

    def state(pk):
        return Attachment.objects.get(pk=pk).preview

    wait_for(lambda: state(photo.pk) == Attachment.Preview.READY, timeout=60, what="the preview")
    wait_for(
        lambda: state(polyglot.pk) == Attachment.Preview.READY, timeout=30, what="the polyglot"
    )
    assert state(bomb.pk) == Attachment.Preview.FAILED
    assert state(truncated.pk) == Attachment.Preview.FAILED
    polyglot.refresh_from_db()
    with polyglot.image.open("rb") as handle:
        assert b"<script" not in handle.read()  # only Pillow's re-encoded pixels are inline
    assert worker.process.proc.poll() is None  # still running after them

    async def frames() -> list[dict]:
        out = []
        while True:
            try:
                event = await asyncio.wait_for(layer.receive(inbox), 10)
            except TimeoutError:
                return out
            payload = json.loads(event["text"])
            out.append(payload)
            if payload["type"] == "attachment_ready":
                return out

    ready = [f for f in async_to_sync(frames)() if f["type"] == "attachment_ready"]
    assert len(ready) == 1
    assert ready[0]["message_id"] == message.pk
    assert ready[0]["attachment"]["id"] == photo.pk
    assert ready[0]["attachment"]["thumbnail_url"].endswith(f"/{photo.pk}/thumbnail/")
    photo.refresh_from_db()
    with photo.thumbnail.open("rb") as handle, Image.open(handle) as thumb:
        assert thumb.size == (400, 267)

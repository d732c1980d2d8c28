"""Files in conversations (issue 12): upload, send, read, download, previews, deletion, sweep,
and hostile files, through the HTTP client, the services and the ASGI guard. The WebSocket
interface is in test_attachments_consumers.py."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts.services import delete_user
from kanban.services import delete_task, remove_member
from messaging.models import Attachment, ChatMessage, DoomedFile, TaskThreadComment
from messaging.services import attachments as service
from messaging.services.editing import delete_chat_message, delete_task_comment
from messaging.services.posting import post_chat_message, post_task_comment
from messaging.services.rooms import delete_chat_room
from messaging.upload_limit import UploadLimitMiddleware
from tests.factories import BoardFactory, ChatRoomFactory, OrganizationFactory, UserFactory

UPLOAD = "/messaging/attachments/"
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.ATTACHMENT_S3_BUCKET = ""


def png_bytes(size=(64, 32), color=(200, 30, 30), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG", **save)
    return out.getvalue()


def jpeg_with_exif(size=(80, 40), orientation=6) -> bytes:
    image = Image.new("RGB", size, (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = orientation  # rotate 90° when shown
    exif[0x010F] = "SecretCam"  # Make
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def upload(client, data: bytes, name="file.bin", *, room=None, task=None, content_type=None):
    fields = {"file": SimpleUploadedFile(name, data, content_type or "application/octet-stream")}
    if room is not None:
        fields["room"] = room.pk
    if task is not None:
        fields["task"] = task.pk
    return client.post(UPLOAD, fields, **JSON)


@pytest.fixture
def uploaded(alice_client, room, django_capture_on_commit_callbacks):
    """Factory: alice uploads bytes for the room (previews made eagerly) -> Attachment."""

    def make(data: bytes = b"hello", name: str = "notes.txt") -> Attachment:
        with django_capture_on_commit_callbacks(execute=True):
            response = upload(alice_client, data, name, room=room)
        assert response.status_code == 201, response.content
        return Attachment.objects.get(pk=response.json()["attachment_id"])

    return make


def send(room, author, *ids, content="") -> ChatMessage:
    return post_chat_message(room=room, author=author, content=content, attachment_ids=list(ids))


# --- upload ------------------------------------------------------------------------------


def test_upload_answers_201_with_the_named_fields(alice_client, room, alice):
    response = upload(alice_client, b"plain text\n", "notes.txt", room=room)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"attachment_id", "name", "size", "content_type", "url", "thumbnail_url"}
    assert body["name"] == "notes.txt"
    assert body["size"] == 11
    assert body["content_type"] == "text/plain"
    assert body["url"] == f"/messaging/attachments/{body['attachment_id']}/"
    assert body["thumbnail_url"] is None
    row = Attachment.objects.get(pk=body["attachment_id"])
    assert row.sha256 == hashlib.sha256(b"plain text\n").hexdigest()
    assert row.uploaded_by == alice
    assert row.organization_id == room.board.organization_id
    assert "notes" not in row.file.name  # the storage key is random
    assert default_storage.open(row.file.name).read() == b"plain text\n"


def test_content_type_comes_from_the_bytes_not_the_client(alice_client, room):
    forged_png = upload(
        alice_client, b"<html><script>x</script>", "a.png", room=room, content_type="image/png"
    )
    assert forged_png.json()["content_type"] == "text/html"
    real_png = upload(alice_client, png_bytes(), "a.txt", room=room, content_type="text/plain")
    assert real_png.json()["content_type"] == "image/png"


def test_empty_file_is_400(alice_client, room):
    response = upload(alice_client, b"", "empty.txt", room=room)
    assert response.status_code == 400
    assert "empty" in response.json()["error"]
    assert not Attachment.objects.exists()


def test_over_the_size_limit_is_413(alice_client, room, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    response = upload(alice_client, b"x" * 1001, "big.bin", room=room)
    assert response.status_code == 413
    assert "limited to" in response.json()["error"]
    assert not Attachment.objects.exists()
    assert upload(alice_client, b"x" * 1000, "ok.bin", room=room).status_code == 201


def test_oversize_body_is_refused_while_streaming_by_the_parser(alice_client, room, settings):
    """Past the limit (plus the multipart envelope) the upload handler stops the parser
    before the file is read (Content-Length says it is too big)."""
    settings.ATTACHMENT_MAX_BYTES = 1000
    response = upload(alice_client, b"x" * 200_000, "big.bin", room=room)
    assert response.status_code == 413


def _asgi_upload(headers, chunks):
    """Drive UploadLimitMiddleware with a body in chunks; return (sent, chunks read, what the
    inner app saw)."""
    reads = []
    seen = []
    sent = []

    async def receive():
        index = len(reads)
        reads.append(index)
        if index < len(chunks):
            return {"type": "http.request", "body": chunks[index], "more_body": True}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send_(message):
        sent.append(message)

    async def app(scope, receive_, send__):
        while True:
            message = await receive_()
            seen.append(message["type"])
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                return

    scope = {"type": "http", "method": "POST", "path": UPLOAD, "headers": headers}
    asyncio.run(UploadLimitMiddleware(app)(scope, receive, send_))
    return sent, len(reads), seen


def test_asgi_guard_answers_413_before_reading_the_body(settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    sent, reads, seen = _asgi_upload([(b"content-length", b"10000000")], [b"x" * 65536] * 200)
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"].startswith("Files are limited")
    assert reads == 0 and seen == []


def test_asgi_guard_cuts_a_chunked_body_off_at_the_limit(settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    _, reads, seen = _asgi_upload([], [b"x" * 16384] * 100)  # 1.6 MB, no length
    assert seen[-1] == "http.disconnect"
    assert reads <= 6  # 64 KB envelope + 1000 bytes: stopped after a few chunks, not 100


def test_upload_rate_limit_is_429(alice_client, room, settings):
    settings.ATTACHMENT_RATE_LIMIT = "2/m"
    assert upload(alice_client, b"a", "a.txt", room=room).status_code == 201
    assert upload(alice_client, b"b", "b.txt", room=room).status_code == 201
    response = upload(alice_client, b"c", "c.txt", room=room)
    assert response.status_code == 429
    assert "Retry-After" in response
    assert Attachment.objects.count() == 2


def test_upload_needs_a_room_or_task_the_user_reads(client_for, room, carol, dave, task):
    assert upload(client_for(carol), b"x", room=room).status_code == 404  # not in the room
    assert upload(client_for(dave), b"x", task=task).status_code == 404
    assert upload(client_for(carol), b"x").status_code == 404
    assert upload(client_for(carol), b"x", task=task).status_code == 201  # on the board


def test_anonymous_upload_is_refused(client, room):
    response = upload(client, b"x", room=room)
    assert response.status_code in (302, 403)
    assert not Attachment.objects.exists()


def test_storage_failure_during_upload_leaves_no_row(alice_client, room, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    default_storage.exists("warm-up")  # resolve the lazy storage
    monkeypatch.setattr(type(default_storage._wrapped), "save", broken)
    response = upload(alice_client, b"data", "a.txt", room=room)
    assert response.status_code == 503
    assert "unavailable" in response.json()["error"]
    assert not Attachment.objects.exists()


def test_organization_quota_gives_a_clear_error(alice_client, room, settings):
    settings.ATTACHMENT_ORG_QUOTA_BYTES = 10
    assert upload(alice_client, b"123456", "a.txt", room=room).status_code == 201
    response = upload(alice_client, b"123456", "b.txt", room=room)
    assert response.status_code == 400
    assert "organization's file storage is full" in response.json()["error"]
    assert Attachment.objects.count() == 1


@pytest.mark.services
def test_two_uploads_that_fit_only_one_at_a_time_cannot_both_pass(
    transactional_db, postgres, settings, tmp_path
):
    """Two members upload at once; each file fits the organization's quota alone, not both.
    The second upload waits for the first's commit, then is refused, and its stored file is
    removed. (Both used to read the same usage and pass: 12 bytes stored under a 10-byte
    quota.)"""
    import time

    from django.core.files.base import ContentFile
    from django.db import connection

    from tests.threads import Background, held_transaction

    settings.ATTACHMENT_ORG_QUOTA_BYTES = 10
    organization = OrganizationFactory()
    first_user, second_user = UserFactory(), UserFactory()

    def store(user, name):
        return lambda: service.create_attachment(
            upload=ContentFile(b"123456", name=name),
            uploader=user,
            organization_id=organization.pk,
        )

    waited_for_the_first = False
    # The first upload's transaction stays open while the second one runs.
    with held_transaction(store(first_user, "first.txt")) as first:
        second = Background(store(second_user, "second.txt"))
        deadline = time.monotonic() + 30
        while not second.finished.is_set() and time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if cursor.fetchone()[0]:
                    waited_for_the_first = True
                    break
            time.sleep(0.02)  # polling the condition above, not a wait for time to pass
    second.join()
    outcome = {"first": first, "second": second.error or second.value}
    assert waited_for_the_first, f"the second upload did not wait: {outcome.get('second')!r}"
    assert isinstance(outcome["first"], Attachment)
    assert isinstance(outcome["second"], service.QuotaExceeded)
    assert "organization's file storage is full" in outcome["second"].messages[0]
    assert list(Attachment.objects.values_list("name", flat=True)) == ["first.txt"]
    stored = [path.name for path in (tmp_path / "media").rglob("*") if path.is_file()]
    assert len(stored) == 1  # the refused upload's file went with it


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\report.pdf", "report.pdf"),
        ("invoice\u202egnp.exe", "invoicegnp.exe"),
        ("a\u2066b\u2069c\x00d\nname.txt", "abcdname.txt"),
        ('quo"te;.txt', "quote.txt"),
        ("...", "file"),
        ("", "file"),
        (".bashrc", "bashrc"),
    ],
)
def test_clean_name(raw, clean):
    assert service.clean_name(raw) == clean


def test_long_names_keep_their_extension():
    name = service.clean_name("x" * 500 + ".pdf")
    assert len(name) == service.NAME_MAX_LENGTH and name.endswith(".pdf")


# --- send --------------------------------------------------------------------------------


def test_a_message_may_carry_files_and_no_text(
    uploaded, room, alice, listen, django_capture_on_commit_callbacks
):
    a, b = uploaded(b"one", "one.txt"), uploaded(b"two", "two.txt")
    group = listen(f"chat_room_{room.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        message = send(room, alice, b.pk, a.pk)
    assert message.content == ""
    assert set(message.attachments.all()) == {a, b}
    payload = next(p for p in group.payloads() if p["type"] == "chat_message")
    assert [x["name"] for x in payload["attachments"]] == ["two.txt", "one.txt"]
    assert set(payload["attachments"][0]) == {
        "id",
        "name",
        "size",
        "content_type",
        "url",
        "thumbnail_url",
        "width",
        "height",
    }


def test_empty_text_without_files_is_still_refused(room, alice):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        send(room, alice, content="  ")


@pytest.mark.parametrize("case", ["someone_else", "sent_already", "other_org", "missing", "eleven"])
def test_bad_attachment_ids_refuse_the_whole_message(
    case, uploaded, room, alice, bob, client_for, settings
):
    from django.core.exceptions import ValidationError

    mine = uploaded(b"mine", "mine.txt")
    if case == "someone_else":
        ids = [mine.pk]
        author = bob
    elif case == "sent_already":
        send(room, alice, mine.pk, content="first")
        ids, author = [mine.pk], alice
    elif case == "other_org":
        other_org = OrganizationFactory(owner=alice)
        other_room = ChatRoomFactory(
            board=BoardFactory(created_by=alice, organization=other_org), created_by=alice
        )
        with_other = upload(client_for(alice), b"z", "z.txt", room=other_room).json()
        ids, author = [with_other["attachment_id"], mine.pk], alice
    elif case == "missing":
        ids, author = [mine.pk, 999999], alice
    else:
        ids, author = [mine.pk] + [uploaded(b"%d" % i).pk for i in range(10)], alice
    before = ChatMessage.objects.count()
    with pytest.raises(ValidationError):
        send(room, author, *ids, content="with files")
    assert ChatMessage.objects.count() == before
    if case != "sent_already":
        assert Attachment.objects.get(pk=mine.pk).attached_at is None


def test_http_send_form_takes_attachment_ids(uploaded, room, alice_client):
    a = uploaded(b"x", "x.txt")
    url = reverse("messaging:room_send", args=[room.pk])
    response = alice_client.post(url, {"content": "", "attachment_ids": str(a.pk)}, **JSON)
    assert response.status_code == 201, response.content
    assert response.json()["attachments"][0]["id"] == a.pk
    again = alice_client.post(url, {"content": "again", "attachment_ids": str(a.pk)}, **JSON)
    assert again.status_code == 400
    assert "cannot be sent" in again.json()["error"]
    bad = alice_client.post(url, {"content": "x", "attachment_ids": "1,abc"}, **JSON)
    assert bad.status_code == 400
    assert ChatMessage.objects.count() == 1


def test_comment_form_takes_attachment_ids(alice_client, task, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        a = upload(alice_client, png_bytes(), "shot.png", task=task).json()
    url = reverse("messaging:task_comments", args=[task.pk])
    response = alice_client.post(
        url, {"content": "see", "attachment_ids": a["attachment_id"]}, **JSON
    )
    assert response.status_code == 201
    item = response.json()["attachments"][0]
    assert item["thumbnail_url"] == f"/messaging/attachments/{a['attachment_id']}/thumbnail/"
    assert (item["width"], item["height"]) == (64, 32)


# --- reading: history, page, download ----------------------------------------------------


def test_history_and_page_carry_attachments(uploaded, room, alice, client_for, bob):
    a = uploaded(png_bytes(), "chart.png")
    send(room, alice, a.pk, content="the chart")
    history = client_for(bob).get(reverse("messaging:room_history", args=[room.pk])).json()
    item = history["messages"][-1]["attachments"][0]
    assert item["name"] == "chart.png" and item["thumbnail_url"]
    page = client_for(bob).get(room.get_absolute_url()).content.decode()
    assert f'data-attachment-id="{a.pk}"' in page
    assert item["thumbnail_url"] in page


def test_download_access(uploaded, room, alice, bob, carol, dave, client_for):
    a = uploaded(b"secret plan", "plan.txt")
    url = a.get_absolute_url()
    assert client_for(alice).get(url).status_code == 200  # the uploader, before sending
    for outsider in (bob, carol, dave):
        assert client_for(outsider).get(url).status_code == 404
    send(room, alice, a.pk, content="plan")
    response = client_for(bob).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"secret plan"
    assert client_for(carol).get(url).status_code == 404  # on the board, not in the room
    assert client_for(dave).get(url).status_code == 404  # another organization
    assert client_for(bob).get(f"/messaging/attachments/{a.pk + 1000}/").status_code == 404


def test_removed_member_loses_files_at_once(uploaded, room, alice, bob, client_for):
    a = uploaded(png_bytes(), "p.png")
    send(room, alice, a.pk, content="pic")
    bob_client = client_for(bob)
    assert bob_client.get(a.get_absolute_url()).status_code == 200
    remove_member(board=room.board, user=bob, removed_by=alice)
    assert bob_client.get(a.get_absolute_url()).status_code == 404
    assert bob_client.get(f"{a.get_absolute_url()}thumbnail/").status_code == 404
    history = bob_client.get(reverse("messaging:room_history", args=[room.pk]))
    assert history.status_code == 404
    assert bob_client.get(room.get_absolute_url()).status_code == 404


def test_member_of_another_organization_gets_404_everywhere(uploaded, room, alice, client_for):
    """Erin is an active member of another organization (with a board and a room of her
    own): the file's download, inline and thumbnail URLs, the room's history and page all
    answer 404 to her, as for an id that does not exist."""
    # A name no random token in the page (CSP nonce, CSRF token) can contain by chance: "q3"
    # once turned up inside one and failed CI.
    a = uploaded(png_bytes(), "quarterly-figures-q3.png")
    send(room, alice, a.pk, content="numbers")
    erin = UserFactory(username="erin")
    elsewhere = OrganizationFactory(owner=erin)
    ChatRoomFactory(board=BoardFactory(created_by=erin, organization=elsewhere), created_by=erin)
    erin_http = client_for(erin)
    for url in (
        a.get_absolute_url(),
        a.get_absolute_url() + "?inline=1",
        a.get_absolute_url() + "thumbnail/",
        reverse("messaging:room_history", args=[room.pk]),
        room.get_absolute_url(),
    ):
        response = erin_http.get(url, **JSON)
        assert response.status_code == 404, url
        assert b"quarterly-figures" not in response.content


def test_comment_attachment_readable_by_board_readers(
    alice_client, task, carol, dave, client_for, alice
):
    a = upload(alice_client, b"doc", "doc.txt", task=task).json()
    post_task_comment(task=task, author=alice, content="", attachment_ids=[a["attachment_id"]])
    assert client_for(carol).get(a["url"]).status_code == 200
    assert client_for(dave).get(a["url"]).status_code == 404


def test_download_headers(uploaded, alice_client):
    a = uploaded(b"<html><script>alert(1)</script></html>", "../../x\u202etxt.html")
    response = alice_client.get(a.get_absolute_url())
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert 'filename="xtxt.html"' in disposition
    assert "\u202e" not in disposition and ".." not in disposition
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["Content-Type"] == "application/octet-stream"


# --- hostile files -----------------------------------------------------------------------

SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def polyglot() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(out, format="JPEG")
    data = out.getvalue()
    # An HTML payload inside a JPEG comment segment: a valid JPEG that sniffs as HTML.
    comment = b"<html><script>alert(1)</script></html>"
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return data[:2] + segment + data[2:]


def bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, format="PNG")  # ~50 KB, 400 Mpx decoded
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "preview"),
    [
        (SVG, "logo.svg", Attachment.Preview.NONE),
        (HTML, "page.html", Attachment.Preview.NONE),
        (polyglot(), "photo.jpg", Attachment.Preview.READY),
        (bomb(), "bomb.png", Attachment.Preview.FAILED),
        (b"\x89PNG\r\n\x1a\nthis is not a png", "broken.png", Attachment.Preview.FAILED),
    ],
    ids=["svg-script", "html", "jpeg-html-polyglot", "decompression-bomb", "truncated-png"],
)
def test_hostile_files_never_render_inline(data, name, preview, uploaded, alice_client):
    a = uploaded(data, name)  # the preview task ran (eager) and did not raise
    a.refresh_from_db()
    assert a.preview == preview
    for url in (a.get_absolute_url(), a.get_absolute_url() + "?inline=1"):
        response = alice_client.get(url)
        body = b"".join(response.streaming_content)
        assert response["Content-Security-Policy"] == "sandbox"
        assert response["X-Content-Type-Options"] == "nosniff"
        if preview == Attachment.Preview.READY and "inline" in url:
            # Pillow's re-encoded pixels: an image, and none of the HTML it carried.
            assert response["Content-Type"] == "image/jpeg"
            assert response["Content-Disposition"].startswith("inline;")
            assert b"<script" not in body
            Image.open(io.BytesIO(body)).verify()
        else:
            assert response["Content-Disposition"].startswith("attachment;")
            assert response["Content-Type"] == "application/octet-stream"
            assert body == data
    thumb = alice_client.get(a.get_absolute_url() + "thumbnail/")
    assert thumb.status_code == (200 if preview == Attachment.Preview.READY else 404)


def test_failed_preview_is_a_plain_file_card(uploaded):
    a = uploaded(bomb(), "bomb.png")
    item = service.attachment_item(Attachment.objects.get(pk=a.pk))
    assert item["thumbnail_url"] is None and item["width"] is None


# --- previews ----------------------------------------------------------------------------


def test_preview_applies_exif_orientation_and_strips_metadata(uploaded, alice_client):
    a = uploaded(jpeg_with_exif((80, 40), orientation=6), "IMG_0001.jpg")
    a.refresh_from_db()
    assert a.preview == Attachment.Preview.READY
    assert (a.width, a.height) == (40, 80)  # rotated
    for url in (a.get_absolute_url() + "?inline=1", a.get_absolute_url() + "thumbnail/"):
        body = b"".join(alice_client.get(url).streaming_content)
        with Image.open(io.BytesIO(body)) as image:
            assert image.size[0] < image.size[1]
            assert not image.getexif()
            assert b"SecretCam" not in body
    original = b"".join(alice_client.get(a.get_absolute_url()).streaming_content)
    assert b"SecretCam" in original  # the download is the file as uploaded


def test_thumbnail_is_bounded(uploaded, alice_client, settings):
    a = uploaded(png_bytes((1600, 800)), "wide.png")
    body = b"".join(alice_client.get(a.get_absolute_url() + "thumbnail/").streaming_content)
    with Image.open(io.BytesIO(body)) as image:
        assert image.size == (settings.ATTACHMENT_THUMBNAIL_SIZE, 200)


def test_attachment_ready_reaches_the_room_when_sent_before_the_preview(
    alice_client, room, alice, listen, django_capture_on_commit_callbacks
):
    """Upload without running the preview task (a slow worker), send, then run it."""
    with django_capture_on_commit_callbacks(execute=False):
        a = upload(alice_client, png_bytes(), "late.png", room=room).json()
    message = send(room, alice, a["attachment_id"], content="")
    payload = message and service.attachment_item(Attachment.objects.get(pk=a["attachment_id"]))
    assert payload["thumbnail_url"] is None and payload["width"] == 64
    group = listen(f"chat_room_{room.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        assert service.make_previews(a["attachment_id"]) == "ready"
    frames = [p for p in group.payloads() if p["type"] == "attachment_ready"]
    assert frames == [
        {
            "type": "attachment_ready",
            "room_id": room.pk,
            "message_id": message.pk,
            "attachment": service.attachment_item(Attachment.objects.get(pk=a["attachment_id"])),
        }
    ]
    assert frames[0]["attachment"]["thumbnail_url"]


# --- deletion and sweep ------------------------------------------------------------------


def test_deleting_a_message_deletes_its_files_after_commit(
    uploaded, room, alice, bob, client_for, django_capture_on_commit_callbacks
):
    a = uploaded(png_bytes(), "p.png")
    keys = [a.file.name, a.image.name, a.thumbnail.name]
    assert all(default_storage.exists(k) for k in keys)
    message = send(room, alice, a.pk, content="pic")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        delete_chat_message(message=message, deleted_by=alice)
        assert all(default_storage.exists(k) for k in keys)  # not before commit
    for callback in callbacks:
        callback()
    assert not any(default_storage.exists(k) for k in keys)
    assert not Attachment.objects.filter(pk=a.pk).exists()
    assert not DoomedFile.objects.exists()
    assert client_for(bob).get(a.get_absolute_url()).status_code == 404
    history = client_for(bob).get(reverse("messaging:room_history", args=[room.pk]) + "?since=0")
    assert history.json()["messages"][-1]["attachments"] == []


def test_deleting_a_user_deletes_their_files_after_commit(
    uploaded, room, bob, client_for, django_capture_on_commit_callbacks
):
    """The admin's delete (accounts.services.delete_user) cascades bob's messages and
    uploads; their stored files go too, sent or not, and nobody else's."""
    alices = uploaded(b"alice's", "a.txt")
    with django_capture_on_commit_callbacks(execute=True):
        sent = upload(client_for(bob), png_bytes(), "p.png", room=room).json()["attachment_id"]
        unsent = upload(client_for(bob), b"draft", "d.txt", room=room).json()["attachment_id"]
    send(room, bob, sent, content="pic")
    sent, unsent = Attachment.objects.get(pk=sent), Attachment.objects.get(pk=unsent)
    keys = [sent.file.name, sent.image.name, sent.thumbnail.name, unsent.file.name]
    assert all(default_storage.exists(k) for k in keys)
    with django_capture_on_commit_callbacks(execute=True):
        delete_user(user=bob)
    assert not any(default_storage.exists(k) for k in keys)
    assert list(Attachment.objects.values_list("pk", flat=True)) == [alices.pk]
    assert default_storage.exists(alices.file.name)
    assert not DoomedFile.objects.exists()


def test_sweep_removes_unsent_uploads_after_a_day(
    uploaded, room, alice, django_capture_on_commit_callbacks
):
    old, fresh, sent = uploaded(b"old"), uploaded(b"fresh"), uploaded(b"sent")
    send(room, alice, sent.pk, content="x")
    Attachment.objects.filter(pk__in=[old.pk, sent.pk]).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = service.sweep_attachments()
    assert result["removed"] == 1
    assert set(Attachment.objects.values_list("pk", flat=True)) == {fresh.pk, sent.pk}
    assert not default_storage.exists(old.file.name)


def test_deleting_a_comment_deletes_its_files_after_commit(
    alice_client, task, alice, carol, client_for, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        body = upload(alice_client, png_bytes(), "c.png", task=task).json()
    a = Attachment.objects.get(pk=body["attachment_id"])
    keys = [a.file.name, a.image.name, a.thumbnail.name]
    comment = post_task_comment(task=task, author=alice, content="", attachment_ids=[a.pk])
    assert client_for(carol).get(body["url"]).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        delete_task_comment(comment=comment, deleted_by=alice)
    assert not any(default_storage.exists(k) for k in keys)
    assert client_for(carol).get(body["url"]).status_code == 404


def test_sweep_removes_the_files_of_a_deleted_room_or_task(
    uploaded, room, task, alice, alice_client, django_capture_on_commit_callbacks, settings
):
    """Deleting a room or task deletes its messages and comments by cascade; the sweep then
    removes the files nothing carries any more, and they stop counting against the quota."""
    in_room = uploaded(b"room file", "r.txt")
    send(room, alice, in_room.pk, content="x")
    on_task = upload(alice_client, b"task file", "t.txt", task=task).json()["attachment_id"]
    post_task_comment(task=task, author=alice, content="", attachment_ids=[on_task])
    kept = uploaded(b"still sent", "k.txt")
    other_room = ChatRoomFactory(board=room.board, name="other", created_by=alice)
    send(other_room, alice, kept.pk, content="stays")
    keys = [in_room.file.name, Attachment.objects.get(pk=on_task).file.name]
    delete_chat_room(room=room, deleted_by=alice)
    delete_task(task=task, deleted_by=alice)
    later = timezone.now() + timedelta(minutes=2)
    with django_capture_on_commit_callbacks(execute=True):
        result = service.sweep_attachments(now=later)
    assert result["orphaned"] == 2
    assert list(Attachment.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not any(default_storage.exists(k) for k in keys)
    assert default_storage.exists(kept.file.name)
    settings.ATTACHMENT_ORG_QUOTA_BYTES = len(b"still sent") + 9
    response = upload(alice_client, b"123456789", "fits.txt", task=None, room=other_room)
    assert response.status_code == 201  # the deleted files no longer count


def test_sweep_retries_deletions_that_failed(
    uploaded, monkeypatch, django_capture_on_commit_callbacks
):
    a = uploaded(b"x")
    key = a.file.name

    def broken(self, name):
        raise OSError("store down")

    with monkeypatch.context() as patched:
        patched.setattr(type(default_storage._wrapped), "delete", broken)
        with django_capture_on_commit_callbacks(execute=True):
            service.discard_attachments([a])
    doomed = DoomedFile.objects.get()
    assert doomed.attempts == 1 and "store down" in doomed.last_error
    assert default_storage.exists(key)
    DoomedFile.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    assert service.sweep_attachments()["retried"] == 1
    assert not default_storage.exists(key)
    assert not DoomedFile.objects.exists()


def test_beat_schedules_the_sweep(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-attachments"]
    assert entry["task"] == "messaging.tasks.sweep_attachments"


def test_other_user_cannot_send_anothers_upload_over_http(uploaded, room, client_for, bob):
    a = uploaded(b"x")
    response = client_for(bob).post(
        reverse("messaging:room_send", args=[room.pk]),
        {"content": "", "attachment_ids": str(a.pk)},
        **JSON,
    )
    assert response.status_code == 400
    assert not ChatMessage.objects.exists()
    assert not TaskThreadComment.objects.exists()

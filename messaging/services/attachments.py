"""Attachments (issue 12): upload, claim by a message or comment, previews, deletion, sweep.

The original bytes are stored under a random key and only ever served as a download. A raster
image (PNG, JPEG, GIF, WebP by its bytes) gets, from a Celery task, a copy Pillow decoded and
re-encoded (EXIF orientation applied, metadata dropped) and a thumbnail: those alone are ever
served inline. Rows whose files must go are turned into `DoomedFile`s in the same transaction;
storage is touched after commit, and the sweep retries what failed.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import unicodedata
import uuid
import warnings
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef, Sum
from django.utils import timezone

from accounts.models import Organization, User
from messaging import realtime
from messaging.models import Attachment, ChatMessage, DoomedFile, TaskThreadComment

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = 180
# Formats whose decoded pixels may be re-encoded and shown inline; value: the format written.
INLINE_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "GIF": "PNG", "WEBP": "WEBP"}
_FORMAT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


class StorageUnavailable(Exception):
    """The file store refused or failed a write."""


class QuotaExceeded(ValidationError):
    pass


# --- pure helpers ------------------------------------------------------------------------

# Control characters, and the bidirectional overrides/isolates/marks that make
# "invoice\u202egnp.exe" display as "invoiceexe.png".
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")


def clean_name(raw: str) -> str:
    """A display and download name: the last path component, without control and bidi
    characters, quotes or leading dots, at most NAME_MAX_LENGTH characters; "file" if nothing
    is left."""
    name = unicodedata.normalize("NFC", raw or "")
    name = _UNSAFE.sub("", name)
    name = re.split(r"[\\/]", name)[-1]
    name = name.replace('"', "").replace(";", "").strip().lstrip(".").strip()
    if len(name) > NAME_MAX_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: NAME_MAX_LENGTH - len(ext) - 1] + "." + ext
        else:
            name = name[:NAME_MAX_LENGTH]
    return name or "file"


def sniff(head: bytes) -> str:
    """The content type the bytes show, whatever the client claimed."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if b"\x00" in head:
        return "application/octet-stream"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the end of the sniffed head is still text.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return "application/octet-stream"
    lowered = text.lstrip().lower()
    if "<svg" in lowered[:1024]:
        return "image/svg+xml"
    if lowered.startswith(("<!doctype html", "<html", "<script", "<body", "<head", "<iframe")):
        return "text/html"
    return "text/plain"


def is_raster(content_type: str) -> bool:
    return content_type in ("image/png", "image/jpeg", "image/gif", "image/webp")


def new_key(kind: str) -> str:
    """A random storage key: nothing of the user's file name reaches the store."""
    return f"attachments/{kind}/{uuid.uuid4().hex}"


def attachment_item(attachment: Attachment) -> dict[str, Any]:
    """The wire shape of one attachment (payloads, history, the upload answer)."""
    from django.urls import reverse

    ready = attachment.preview == Attachment.Preview.READY
    return {
        "id": attachment.pk,
        "name": attachment.name,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "url": reverse("messaging:attachment_download", args=[attachment.pk]),
        "thumbnail_url": (
            reverse("messaging:attachment_thumbnail", args=[attachment.pk]) if ready else None
        ),
        "width": attachment.width,
        "height": attachment.height,
    }


# --- upload ------------------------------------------------------------------------------


def _image_size(upload: File) -> tuple[int | None, int | None]:
    """Width and height as displayed (EXIF orientation applied), read from the header only."""
    from PIL import Image

    try:
        upload.seek(0)
        with Image.open(upload) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
    except Exception:
        return None, None
    finally:
        upload.seek(0)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return width, height


def organization_usage(organization_id: int) -> int:
    return (
        Attachment.objects.filter(organization_id=organization_id).aggregate(total=Sum("size"))[
            "total"
        ]
        or 0
    )


def _check_quota(organization_id: int, size: int) -> None:
    quota = settings.ATTACHMENT_ORG_QUOTA_BYTES
    if quota and organization_usage(organization_id) + size > quota:
        raise QuotaExceeded(
            f"Your organization's file storage is full ({quota / 1048576:g} MB); "
            "delete old files or ask an admin to raise ATTACHMENT_ORG_QUOTA_BYTES.",
            code="quota",
        )


def create_attachment(*, upload: File, uploader: User, organization_id: int) -> Attachment:
    """Store an upload and its row. Empty, too big or over the organization's quota:
    ValidationError; the store failing: StorageUnavailable, and no row is left behind.

    The quota holds under concurrent uploads: the usage is checked again with the
    organization's row locked, up to the insert's commit, so two uploads that each fit but
    not together cannot both pass (the first check only spares storing a refused file)."""
    size = upload.size
    if not size:
        raise ValidationError("The file is empty.", code="empty")
    if size > settings.ATTACHMENT_MAX_BYTES:
        raise ValidationError(too_large_message(), code="too_large")
    _check_quota(organization_id, size)
    upload.seek(0)
    content_type = sniff(upload.read(2048))
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    width = height = None
    if is_raster(content_type):
        width, height = _image_size(upload)
    upload.seek(0)
    try:
        key = default_storage.save(new_key("files"), upload)
    except Exception as exc:
        logger.warning("attachment store failed: %r", exc)
        raise StorageUnavailable("The file store is unavailable; try again shortly.") from exc
    try:
        with transaction.atomic():
            if settings.ATTACHMENT_ORG_QUOTA_BYTES:
                # NO KEY UPDATE: uploads of one organization wait for each other here, while
                # rows that only reference the organization (boards, members) do not.
                locked = Organization.objects.select_for_update(no_key=True)
                list(locked.filter(pk=organization_id).values_list("pk", flat=True))
                _check_quota(organization_id, size)
            attachment = Attachment.objects.create(
                file=key,
                name=clean_name(upload.name),
                content_type=content_type,
                size=size,
                sha256=digest.hexdigest(),
                uploaded_by=uploader,
                organization_id=organization_id,
                width=width,
                height=height,
                preview=(
                    Attachment.Preview.PENDING
                    if is_raster(content_type)
                    else Attachment.Preview.NONE
                ),
            )
            if attachment.preview == Attachment.Preview.PENDING:
                from messaging.tasks import make_attachment_previews

                pk = attachment.pk
                transaction.on_commit(lambda: make_attachment_previews.delay(pk))
    except BaseException:
        _delete_keys([key])
        raise
    return attachment


def too_large_message() -> str:
    return f"Files are limited to {settings.ATTACHMENT_MAX_BYTES / 1048576:g} MB."


# --- send ------------------------------------------------------------------------------


def clean_attachment_ids(value: Any) -> list[int]:
    """The `attachment_ids` of a frame or form: a list of distinct positive ints (<= 10)."""
    if value in (None, "", []):
        return []
    if not isinstance(value, list) or not all(
        isinstance(item, int) and not isinstance(item, bool) and item > 0 for item in value
    ):
        raise ValidationError("attachment_ids must be a list of attachment ids.", code="invalid")
    limit = settings.ATTACHMENT_MAX_PER_MESSAGE
    ids = list(dict.fromkeys(value))
    if len(ids) > limit:
        raise ValidationError(f"At most {limit} files per message.", code="too_many")
    return ids


def claim_attachments(*, ids: list[int], owner: User, organization_id: int) -> list[Attachment]:
    """Lock and mark as sent the owner's unsent uploads in the organization, in the given
    order; any id that is not one (someone else's, sent already, another organization,
    missing) is a ValidationError and nothing is claimed. Call inside the post's transaction."""
    if not ids:
        return []
    found = {
        a.pk: a
        for a in Attachment.objects.select_for_update().filter(
            pk__in=ids,
            uploaded_by=owner,
            organization_id=organization_id,
            attached_at__isnull=True,
        )
    }
    if len(found) != len(ids):
        raise ValidationError(
            "Some attachments cannot be sent: upload them again.", code="bad_attachment"
        )
    now = timezone.now()
    Attachment.objects.filter(pk__in=ids).update(attached_at=now)
    claimed = [found[pk] for pk in ids]
    for attachment in claimed:
        attachment.attached_at = now
    return claimed


def discard_attachments(attachments: Iterable[Attachment]) -> int:
    """Drop rows and doom their files (deleted from storage after commit)."""
    attachments = list(attachments)
    keys = [
        key for a in attachments for key in (a.file.name, a.image.name, a.thumbnail.name) if key
    ]
    Attachment.objects.filter(pk__in=[a.pk for a in attachments]).delete()
    doom_keys(keys)
    return len(attachments)


def discard_post_attachments(post: ChatMessage | TaskThreadComment) -> int:
    """Deleting a message or comment deletes its files (after commit)."""
    return discard_attachments(post.attachments.all())


def doom_keys(keys: list[str]) -> None:
    if not keys:
        return
    doomed = DoomedFile.objects.bulk_create([DoomedFile(key=key) for key in keys])
    ids = [d.pk for d in doomed if d.pk is not None]
    if not ids:  # backends that do not return ids from bulk_create
        ids = list(DoomedFile.objects.filter(key__in=keys).values_list("pk", flat=True))

    def later() -> None:
        from messaging.tasks import delete_doomed_files

        delete_doomed_files.delay(ids)

    transaction.on_commit(later)


def delete_doomed(ids: Iterable[int] | None = None, *, limit: int = 500) -> int:
    """Delete doomed files from storage; a failure stays queued with its error."""
    rows = DoomedFile.objects.all()
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    deleted = 0
    for doomed in rows[:limit]:
        try:
            default_storage.delete(doomed.key)
        except Exception as exc:
            DoomedFile.objects.filter(pk=doomed.pk).update(
                attempts=doomed.attempts + 1, last_error=repr(exc)[:500]
            )
            continue
        DoomedFile.objects.filter(pk=doomed.pk).delete()
        deleted += 1
    return deleted


def _delete_keys(keys: list[str]) -> None:
    for key in keys:
        try:
            default_storage.delete(key)
        except Exception:
            DoomedFile.objects.create(key=key)


def sweep_attachments(*, now=None) -> dict[str, int]:
    """Beat: remove uploads no message took within ATTACHMENT_UNSENT_MAX_AGE_SECONDS, and
    sent files no message or comment carries any more (theirs went with a deleted room,
    board, column or task: a cascade, which no service of ours sees); retry deleting files
    whose deletion failed (queued a minute or more ago)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.ATTACHMENT_UNSENT_MAX_AGE_SECONDS)
    with transaction.atomic():
        stale = Attachment.objects.select_for_update().filter(
            attached_at__isnull=True, created_at__lt=cutoff
        )
        removed = discard_attachments(stale[:1000])
    with transaction.atomic():
        carried = (
            ChatMessage.attachments.through.objects.filter(attachment_id=OuterRef("pk")),
            TaskThreadComment.attachments.through.objects.filter(attachment_id=OuterRef("pk")),
        )
        orphans = Attachment.objects.select_for_update().filter(
            ~Exists(carried[0]),
            ~Exists(carried[1]),
            attached_at__lt=now - timedelta(minutes=1),
        )
        orphaned = discard_attachments(orphans[:1000])
    retry = DoomedFile.objects.filter(created_at__lt=now - timedelta(minutes=1))
    retried = delete_doomed(list(retry.values_list("pk", flat=True)[:500]))
    return {"removed": removed, "orphaned": orphaned, "retried": retried}


# --- previews (Celery) -----------------------------------------------------------------


def make_previews(attachment_id: int) -> str:
    """Decode the image with Pillow (bounded by ATTACHMENT_MAX_IMAGE_PIXELS), apply its EXIF
    orientation, and store a re-encoded full-size copy and a thumbnail without metadata. Then
    tell the rooms and threads whose messages carry it (`attachment_ready`). Anything Pillow
    cannot or will not decode marks the attachment FAILED: it stays a download."""
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None or attachment.preview != Attachment.Preview.PENDING:
        return "skipped"
    try:
        full, thumb, size = _render(attachment)
    except Exception as exc:  # hostile or broken images must never crash the worker
        logger.info("no preview for attachment %s: %r", attachment_id, exc)
        # Without a preview it is a plain file: no size either (clients show a card).
        Attachment.objects.filter(pk=attachment_id, preview=Attachment.Preview.PENDING).update(
            preview=Attachment.Preview.FAILED, width=None, height=None
        )
        return "failed"
    try:
        image_key = default_storage.save(new_key("images"), ContentFile(full))
        thumb_key = default_storage.save(new_key("thumbs"), ContentFile(thumb))
    except Exception as exc:
        logger.warning("preview store failed for %s: %r", attachment_id, exc)
        raise
    with transaction.atomic():
        locked = Attachment.objects.select_for_update().filter(pk=attachment_id).first()
        if locked is None or locked.preview != Attachment.Preview.PENDING:
            doom_keys([image_key, thumb_key])
            return "skipped"
        locked.image = image_key
        locked.thumbnail = thumb_key
        locked.width, locked.height = size
        locked.preview = Attachment.Preview.READY
        locked.save(update_fields=["image", "thumbnail", "width", "height", "preview"])
        _announce_ready(locked)
    return "ready"


def _render(attachment: Attachment) -> tuple[bytes, bytes, tuple[int, int]]:
    from PIL import Image, ImageOps

    limit = settings.ATTACHMENT_MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit  # Pillow refuses twice this outright
    with attachment.file.open("rb") as handle:
        data = handle.read()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in INLINE_FORMATS:
                raise ValueError(f"not an inline format: {probe.format}")
            fmt = INLINE_FORMATS[probe.format]
            width, height = probe.size
            if width * height > limit:
                raise Image.DecompressionBombError(f"{width}x{height} pixels")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA")
    full = _encode(image, fmt)
    thumb_image = image.copy()
    side = settings.ATTACHMENT_THUMBNAIL_SIZE
    thumb_image.thumbnail((side, side))
    thumb = _encode(thumb_image, fmt)
    return full, thumb, image.size


def _encode(image, fmt: str) -> bytes:
    out = io.BytesIO()
    options: dict[str, Any] = {"quality": 88} if fmt in ("JPEG", "WEBP") else {}
    # A fresh save with no exif/icc/info arguments writes no metadata.
    image.info = {}
    image.save(out, format=fmt, **options)
    return out.getvalue()


def inline_type(attachment: Attachment) -> str:
    """The content type of the re-encoded image."""
    fmt = INLINE_FORMATS.get(attachment.content_type.split("/")[-1].upper(), "PNG")
    return _FORMAT_TYPES[fmt]


def _announce_ready(attachment: Attachment) -> None:
    item = attachment_item(attachment)
    for message in ChatMessage.objects.filter(attachments=attachment, is_deleted=False):
        realtime.broadcast_on_commit(
            realtime.room_group(message.chat_room_id),
            {
                "type": "attachment_ready",
                "room_id": message.chat_room_id,
                "message_id": message.pk,
                "attachment": item,
            },
        )
    for comment in TaskThreadComment.objects.filter(attachments=attachment, is_deleted=False):
        realtime.broadcast_on_commit(
            realtime.task_group(comment.task_id),
            {
                "type": "attachment_ready",
                "task_id": comment.task_id,
                "comment_id": comment.pk,
                "attachment": item,
            },
        )

"""Attachments over HTTP (issue 12): upload, and downloads behind the access check.

The upload view installs `LimitedUploadHandler` before anything reads the body, so a file over
ATTACHMENT_MAX_BYTES is refused while it streams (413) instead of after it was buffered whole.
That is why the view is csrf_exempt outside and csrf_protect inside: the CSRF check reads
request.POST, which would parse the body with the default handlers first (Django's documented
pattern for custom upload handlers).
"""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from kanban.selectors import get_task_for
from messaging import access, ratelimit
from messaging.models import Attachment
from messaging.selectors.rooms import get_room_for
from messaging.services import attachments as service

from .common import json_error

# Multipart framing and the small fields around the file.
_ENVELOPE_BYTES = 64 * 1024


class LimitedUploadHandler(FileUploadHandler):
    """Counts the bytes of each file as they arrive and stops the upload, without reading the
    rest, the moment one passes ATTACHMENT_MAX_BYTES."""

    def __init__(self, request: HttpRequest) -> None:
        super().__init__(request)
        self.limit = settings.ATTACHMENT_MAX_BYTES
        self.received = 0

    def _refuse(self) -> None:
        self.request.upload_too_large = True
        raise StopUpload(connection_reset=True)

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self._refuse()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


@csrf_exempt
@require_POST
def attachment_upload(request: HttpRequest) -> HttpResponse:
    """POST /messaging/attachments/ (multipart: `file`, and `room` or `task`) -> 201."""
    if not request.user.is_authenticated:
        return json_error("Sign in first.", status=403)
    request.upload_handlers.insert(0, LimitedUploadHandler(request))
    return _upload(request)


@csrf_protect
def _upload(request: HttpRequest) -> HttpResponse:
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > settings.ATTACHMENT_MAX_BYTES + _ENVELOPE_BYTES:
        return json_error(service.too_large_message(), status=413)  # before reading the body
    files = request.FILES  # parses the body through LimitedUploadHandler
    if getattr(request, "upload_too_large", False):
        return json_error(service.too_large_message(), status=413)
    limit = ratelimit.hit(bucket=ratelimit.UPLOAD, user_id=request.user.pk)
    if not limit.allowed:
        response = json_error(limit.message, status=429)
        response["Retry-After"] = str(limit.retry_after)
        return response
    upload = files.get("file")
    if upload is None:
        return json_error("file: choose a file to upload.")
    organization_id = _context_organization(request)
    try:
        attachment = service.create_attachment(
            upload=upload, uploader=request.user, organization_id=organization_id
        )
    except ValidationError as error:
        status = 413 if error.code == "too_large" else 400
        return json_error(" ".join(error.messages), status=status)
    except service.StorageUnavailable as error:
        return json_error(str(error), status=503)
    item = service.attachment_item(attachment)
    return JsonResponse(
        {
            "attachment_id": item["id"],
            "name": item["name"],
            "size": item["size"],
            "content_type": item["content_type"],
            "url": item["url"],
            "thumbnail_url": item["thumbnail_url"],
        },
        status=201,
    )


def _context_organization(request: HttpRequest) -> int:
    """The organization of the room or task the upload is for (404 unless the user reads it)."""
    room_id, task_id = request.POST.get("room", ""), request.POST.get("task", "")
    if room_id.isdigit():
        room = get_room_for(request.user, int(room_id))
        return access.room_organization_id(room)
    if task_id.isdigit():
        task = get_task_for(request.user, int(task_id))
        return task.column.board.organization_id
    raise Http404("Name the room or task the file is for.")


def _readable(request: HttpRequest, attachment_id: int) -> Attachment:
    attachment = get_object_or_404(Attachment, pk=attachment_id)
    if not access.can_read_attachment(request.user, attachment):
        raise Http404("No such attachment.")
    return attachment


def _disposition(kind: str, name: str) -> str:
    ascii_name = name.encode("ascii", "ignore").decode() or "file"
    ascii_name = ascii_name.replace("\\", "").replace('"', "")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def _serve(key: str, *, name: str, content_type: str, inline: bool) -> HttpResponse:
    disposition = _disposition("inline" if inline else "attachment", name)
    if settings.ATTACHMENT_S3_BUCKET:
        url = default_storage.url(
            key,
            parameters={
                "ResponseContentDisposition": disposition,
                "ResponseContentType": content_type,
            },
            expire=settings.ATTACHMENT_S3_URL_SECONDS,
        )
        response: HttpResponse = HttpResponseRedirect(url)
    else:
        try:
            handle = default_storage.open(key, "rb")
        except FileNotFoundError as exc:
            raise Http404("No such attachment.") from exc
        response = FileResponse(handle, content_type=content_type)
        response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def attachment_download(request: HttpRequest, attachment_id: int) -> HttpResponse:
    """The file as a download. `?inline=1` shows the re-encoded copy of an image Pillow
    decoded, and nothing else: any other file is still a download."""
    attachment = _readable(request, attachment_id)
    if request.GET.get("inline") and attachment.preview == Attachment.Preview.READY:
        return _serve(
            attachment.image.name,
            name=attachment.name,
            content_type=service.inline_type(attachment),
            inline=True,
        )
    return _serve(
        attachment.file.name,
        name=attachment.name,
        content_type="application/octet-stream",
        inline=False,
    )


@require_GET
def attachment_thumbnail(request: HttpRequest, attachment_id: int) -> HttpResponse:
    attachment = _readable(request, attachment_id)
    if attachment.preview != Attachment.Preview.READY:
        raise Http404("No thumbnail yet.")
    name = attachment.name.rsplit(".", 1)[0] + (
        mimetypes.guess_extension(service.inline_type(attachment)) or ""
    )
    return _serve(
        attachment.thumbnail.name,
        name=name,
        content_type=service.inline_type(attachment),
        inline=True,
    )

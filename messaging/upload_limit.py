"""ASGI guard for attachment uploads (issue 12).

Django's ASGI handler reads a request body whole (into a spooled temporary file) before any
view runs, so a view alone cannot refuse an oversize upload while it streams. This wrapper
answers 413 from the Content-Length header before reading a byte of the body, and cuts a
body without a length (chunked) off as soon as it passes the limit. Under WSGI and the test
client, `messaging.views.attachments.LimitedUploadHandler` does the same while parsing.
"""

from __future__ import annotations

import json

from django.conf import settings

UPLOAD_PATH = "/messaging/attachments/"
ENVELOPE_BYTES = 64 * 1024


class UploadLimitMiddleware:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if not (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and scope.get("path") == UPLOAD_PATH
        ):
            return await self.app(scope, receive, send)
        limit = settings.ATTACHMENT_MAX_BYTES + ENVELOPE_BYTES
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            return await _too_large(send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    return {"type": "http.disconnect"}
            return message

        return await self.app(scope, counted, send)


async def _too_large(send) -> None:
    megabytes = settings.ATTACHMENT_MAX_BYTES / 1048576
    body = json.dumps({"error": f"Files are limited to {megabytes:g} MB."}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

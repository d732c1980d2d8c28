"""Guards that refuse an oversize attachment upload while it streams (issue 12).

Two layers buffer a request body whole before any view runs, so a view alone cannot refuse
an oversize upload while it streams:

- daphne (Twisted) receives the entire body into a temporary file before it even calls the
  ASGI application. `install_daphne_guard` (called by kanban_board.serve, which every launcher
  uses) makes daphne's request answer 413 from the Content-Length header, or as soon as a body
  without one (chunked) passes the limit, and drop the rest of the body unread into memory.
- Django's ASGI handler reads the body into a spooled temporary file. `UploadLimitMiddleware`
  answers 413 from Content-Length before reading a byte, and cuts a chunked body off at the
  limit (for ASGI servers other than daphne).

Under WSGI and the test client, `messaging.views.attachments.LimitedUploadHandler` does the
same while parsing.
"""

from __future__ import annotations

import json

from django.conf import settings

UPLOAD_PATH = "/messaging/attachments/"
ENVELOPE_BYTES = 64 * 1024
# After a 413 the server reads and drops what the client still sends for up to this long
# before closing ("lingering close", as nginx does): closing at once, with the client's bytes
# unread, resets the connection and the client may never see the 413.
LINGER_SECONDS = 5.0


def body_limit() -> int:
    """The most bytes an upload request may carry: the file plus the multipart envelope."""
    return settings.ATTACHMENT_MAX_BYTES + ENVELOPE_BYTES


def _too_large_body() -> bytes:
    megabytes = settings.ATTACHMENT_MAX_BYTES / 1048576
    return json.dumps({"error": f"Files are limited to {megabytes:g} MB."}).encode()


def install_daphne_guard() -> None:
    """Make daphne refuse oversize uploads to UPLOAD_PATH while they stream (idempotent)."""
    from daphne import http_protocol

    base = http_protocol.WebRequest
    if getattr(base, "refuses_oversize_uploads", False):
        return

    class UploadGuardedRequest(base):
        refuses_oversize_uploads = True
        _refused = False
        _received = 0
        _linger = None

        def _is_upload(self) -> bool:
            channel = self.channel
            command = getattr(channel, "_command", b"")
            path = getattr(channel, "_path", b"").split(b"?", 1)[0]
            return command == b"POST" and path == UPLOAD_PATH.encode()

        def gotLength(self, length: int | None) -> None:
            if length is not None and length > body_limit() and self._is_upload():
                super().gotLength(0)
                return self._refuse()
            super().gotLength(length)

        def handleContentChunk(self, data: bytes) -> None:
            if self._refused:
                return  # dropped, never stored
            self._received += len(data)
            if self._received > body_limit() and self._is_upload():
                return self._refuse()
            super().handleContentChunk(data)

        def requestReceived(self, command, path, version) -> None:
            if self._refused:  # the whole (dropped) body arrived: close now
                return self._close()
            super().requestReceived(command, path, version)

        def _refuse(self) -> None:
            from twisted.internet import reactor  # daphne's, installed by daphne.server

            self._refused = True
            body = _too_large_body()
            self.channel.transport.write(
                b"HTTP/1.1 413 Request Entity Too Large\r\n"
                b"Content-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                b"Connection: close\r\n\r\n" + body
            )
            self._linger = reactor.callLater(LINGER_SECONDS, self._close)

        def _close(self) -> None:
            if self._linger is not None and self._linger.active():
                self._linger.cancel()
            if self.channel is not None:
                self.channel.transport.loseConnection()

        def connectionLost(self, reason) -> None:
            if self._linger is not None and self._linger.active():
                self._linger.cancel()
            super().connectionLost(reason)

    http_protocol.WebRequest = UploadGuardedRequest


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
        limit = body_limit()
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
    body = _too_large_body()
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

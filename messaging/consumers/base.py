"""Plumbing shared by the messaging WebSocket consumers.

A consumer here is an interface (STYLE §1): it authorizes on connect, parses client frames,
re-checks access before acting on each one, calls one service, and reports failures as
`{"type": "error", "message": ...}` frames without ever crashing on client input. Group events
need no ORM work: `forward` sends the prepared text as is; `access_changed` re-checks access
and closes the socket with ACCESS_GONE when it is gone.
"""

from __future__ import annotations

import json
import logging
from importlib import import_module
from typing import Any, ClassVar

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib import auth
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from accounts.models import User
from messaging import realtime

logger = logging.getLogger(__name__)

# Close code telling the client its access is gone: it must not reconnect (static/js/lib/socket.js).
ACCESS_GONE = 4403
# A frame longer than this cannot hold a valid message (text plus JSON overhead): refuse it
# before parsing.
MAX_FRAME_CHARS = settings.MESSAGE_MAX_LENGTH * 2 + 1024
CLIENT_ID_ECHO_MAX = 64


class MessagingConsumer(AsyncWebsocketConsumer):
    """Base class. Subclasses set `handlers` (client frame type -> method name) and override
    `authorize`, `still_allowed` and `subscriptions`; hooks `joined`/`left` are optional."""

    handlers: ClassVar[dict[str, str]] = {}
    access_gone_message = "You no longer have access here."

    user: User
    accepted = False
    access_revoked = False

    # --- to override ----------------------------------------------------------------------

    async def authorize(self) -> bool:
        """Load what the socket is about; return whether `self.user` may open it."""
        return True

    async def still_allowed(self) -> bool:
        """Re-check access (before every client frame and on an access-change signal)."""
        return True

    def subscriptions(self) -> list[str]:
        """Groups to join besides the user's own group."""
        return []

    async def joined(self) -> None:
        """Called once the socket is accepted."""

    async def left(self) -> None:
        """Called when an accepted socket closes, unless access was revoked."""

    # --- connection -----------------------------------------------------------------------

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        # Unwrap channels' lazy user so services get a plain User instance.
        self.user = getattr(user, "_wrapped", user)
        try:
            allowed = await self.authorize()
        except Exception:
            logger.exception("authorizing %s failed", type(self).__name__)
            allowed = False
        if not allowed:
            await self.close()  # before accept: the handshake is refused
            return
        self.groups = [*self.subscriptions(), realtime.user_group(self.user.pk)]
        for group in self.groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.accepted = True
        await self.joined()

    async def disconnect(self, code: int) -> None:
        if self.accepted and not self.access_revoked:
            try:
                await self.left()
            except Exception:
                logger.exception("%s.left failed", type(self).__name__)

    async def revoke(self) -> None:
        """Access is gone: say so, stop forwarding, close with ACCESS_GONE."""
        if self.access_revoked:
            return
        self.access_revoked = True
        for group in self.groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups = []
        await self.send_json(realtime.error_payload(self.access_gone_message, code="access_gone"))
        await self.close(code=ACCESS_GONE)

    async def access_holds(self) -> bool:
        """The login behind the socket still stands and `still_allowed` still passes."""
        return await self.session_holds() and await self.still_allowed()

    async def session_holds(self) -> bool:
        """The socket's session still authenticates its user: it was not logged out (the
        session row is gone), the user is active and their password hash is unchanged.
        Reads the session afresh: scope["session"] is the copy loaded at the handshake."""
        session = self.scope.get("session")
        if session is None:  # mounted without SessionMiddleware (unit tests): nothing to check
            return True
        if not session.session_key:
            return False
        return await database_sync_to_async(session_user_id)(session.session_key) == self.user.pk

    # --- client frames --------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.access_revoked:
            return
        if text_data is None:
            await self.send_error("Binary frames are not supported: send JSON text.")
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self.send_error("That frame is too large.")
            return
        try:
            data = json.loads(text_data)
        except ValueError:
            await self.send_error("That frame is not valid JSON.")
            return
        if not isinstance(data, dict):
            await self.send_error('Expected a JSON object with a "type".')
            return
        kind = data.get("type")
        method = self.handlers.get(kind) if isinstance(kind, str) else None
        if method is None:
            known = ", ".join(sorted(self.handlers))
            await self.send_error(f"Unknown message type; expected one of: {known}.")
            return
        client_id = data.get("client_id")
        echo = {"client_id": client_id[:CLIENT_ID_ECHO_MAX]} if isinstance(client_id, str) else {}
        try:
            if not await self.access_holds():
                await self.revoke()
                return
            await getattr(self, method)(data)
        except ValidationError as error:
            await self.send_error(" ".join(error.messages), **echo)
        except Exception:
            logger.exception("%s failed on a %r frame", type(self).__name__, kind)
            await self.send_error("Something went wrong; nothing was saved. Try again.", **echo)

    # --- group events (no ORM work) -------------------------------------------------------

    async def forward(self, event: dict[str, Any]) -> None:
        """A payload prepared by a service: send it unchanged (skipping its originator when
        the event says so)."""
        if self.access_revoked or event.get("exclude_user_id") == self.user.pk:
            return
        await self.send(text_data=event["text"])

    async def access_changed(self, event: dict[str, Any]) -> None:
        if self.accepted and not await self.access_holds():
            await self.revoke()

    # --- helpers --------------------------------------------------------------------------

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(payload))

    async def send_error(self, message: str, **extra: Any) -> None:
        await self.send_json(realtime.error_payload(message, **extra))

    async def group_forward(
        self, group: str, payload: dict[str, Any], *, exclude_self: bool = True
    ) -> None:
        """Send an ephemeral payload (presence) to a group; a layer failure is logged."""
        event = realtime.forward_event(
            payload, exclude_user_id=self.user.pk if exclude_self else None
        )
        try:
            await self.channel_layer.group_send(group, event)
        except Exception:  # presence is best effort
            logger.warning("presence broadcast to %s failed", group, exc_info=True)


def session_user_id(session_key: str) -> int | None:
    """Whom the stored session authenticates now, as Django's own middleware would decide
    (None when it was deleted, the user is inactive or the password changed)."""
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return auth.get_user(request).pk


def require_text(data: dict[str, Any], key: str) -> str:
    """The string under `key`, or ValidationError naming the field."""
    value = data.get(key)
    if value is None:
        raise ValidationError(f'"{key}" is required.')
    if not isinstance(value, str):
        raise ValidationError(f'"{key}" must be a string.')
    return value


def optional_client_id(data: dict[str, Any]) -> str:
    value = data.get("client_id")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError('"client_id" must be a string.')
    return value

"""Plumbing shared by the messaging WebSocket consumers.

A consumer here is an interface (STYLE §1): it authorizes on connect, parses client frames,
re-checks access before acting on each one, calls one service, and reports failures as
`{"type": "error", "message": ...}` frames without ever crashing on client input. Group events
need no ORM work: `forward` sends the prepared text as is; `access_changed` re-checks access
and closes the socket with ACCESS_GONE when it is gone.

No socket stays open but deaf: a channel-layer failure (receive, subscribe, or any call in this
process) or a lost group membership (Redis restart, FLUSHALL, expiry) closes the socket with
RESYNC, and the client reconnects and back-fills (messaging.layers). A user who floods gets
error frames, then RATE_LIMITED (messaging.ratelimit).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from importlib import import_module
from typing import Any, ClassVar

from autobahn.exception import Disconnected
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib import auth
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User
from messaging import layers, presence_live, pushback, ratelimit, realtime
from messaging.dbcalls import db_call
from messaging.services import presence as presence_service

logger = logging.getLogger(__name__)

# Close code telling the client its access is gone: it must not reconnect (static/js/lib/socket.js).
ACCESS_GONE = 4403
# Close code for a flooder (4xxx: the client must not reconnect and resume).
RATE_LIMITED = 4429
# Close code asking the client to reconnect and back-fill: this socket may have missed events.
# (1012 "service restart" would say it better, but daphne's autobahn lets a server send only
# 1000 or 3000-4999, and our clients treat 4000-4999 as final.)
RESYNC = 1000
# Client frame type -> rate-limit bucket (messaging.ratelimit).
RATE_LIMITED_FRAMES = {
    "chat_message": ratelimit.CHAT,
    "comment": ratelimit.COMMENT,
    "typing": ratelimit.TYPING,
    "stop_typing": ratelimit.TYPING,
    # Conversations (issue 10): edits, deletions and reactions count like posts.
    "edit_message": ratelimit.CHAT,
    "delete_message": ratelimit.CHAT,
    "edit_comment": ratelimit.COMMENT,
    "delete_comment": ratelimit.COMMENT,
    "react": ratelimit.CHAT,
}
# A frame longer than this cannot hold a valid message, even one whose every character the
# client had to escape (a control character becomes the 6 characters of "\u0001"), plus the
# JSON envelope: refuse it before parsing.
MAX_FRAME_CHARS = settings.MESSAGE_MAX_LENGTH * 6 + 1024
# Client frames that save a post: refused with `slow_down` when the process is saturated
# (messaging.pushback).
POSTING_FRAMES = frozenset({"chat_message", "comment"})
CLIENT_ID_ECHO_MAX = 64
# Client frames a socket may have waiting (the rate limit stops a flood well before).
MAX_QUEUED_FRAMES = 64
CLOSE = "close"  # the frame queue's marker for `close_after_frames`
# On disconnect, how long the frames already received may take to finish.
FRAMES_DRAIN_SECONDS = 5.0
# While a socket waits for the layer in its handshake, its failed receive is retried this often.
RECEIVE_RETRY_SECONDS = 0.25


class MessagingConsumer(AsyncWebsocketConsumer):
    """Base class. Subclasses set `handlers` (client frame type -> method name) and override
    `authorize`, `allowed_now` and `subscriptions`; hooks `joined`/`left` are optional."""

    handlers: ClassVar[dict[str, str]] = {}
    access_gone_message = "You no longer have access here."

    user: User
    accepted = False
    access_revoked = False
    closing = False
    layer_failed = False
    # Set once `subscribe` has joined every group: from then on a failed receive may have
    # cost this socket events.
    subscribed = False
    watch_task: asyncio.Task | None = None
    # Per-socket access cache: when `access_holds` last passed (monotonic seconds). Client
    # frames trust it for SOCKET_ACCESS_RECHECK_SECONDS; an access-changed signal re-checks at
    # once. The services still check inside their transactions: that check is the authority.
    access_checked_at: float | None = None
    # Presence (issue 11): set by the page's first `heartbeat` frame on this socket.
    presence: presence_live.Connection | None = None
    # Presence frames heard while the answer to that first heartbeat is read wait here (they
    # are newer than it); None the rest of the time.
    presence_backlog: list[str] | None = None

    # --- to override ----------------------------------------------------------------------

    async def authorize(self) -> bool:
        """Load what the socket is about; return whether `self.user` may open it."""
        return True

    def allowed_now(self) -> bool:
        """Re-check access (on an access-change signal, and before a client frame once the
        socket's cached answer is older than SOCKET_ACCESS_RECHECK_SECONDS). Runs in one hop
        to the database threads, together with the session check."""
        return True

    def subscriptions(self) -> list[str]:
        """Groups to join besides the user's own group."""
        return []

    def presence_people(self) -> QuerySet[User] | None:
        """Whose presence frames this socket hears (its room's or board's readers): the first
        heartbeat is answered with the status of those who are not offline. None: nobody's."""
        return None

    async def joined(self) -> None:
        """Called once the socket is accepted."""

    async def left(self) -> None:
        """Called when an accepted socket closes, unless access was revoked."""

    # --- connection -----------------------------------------------------------------------

    async def connect(self) -> None:
        self.awaiting_ack = set()
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
        if not await self.subscribe():
            logger.warning("%s: subscribing failed; refusing the socket", type(self).__name__)
            # As from the attempt's start: a socket that subscribed since (Redis is back, and
            # this attempt failed on a connection of the old one) missed nothing by it.
            layers.note_layer_failure(started=self.layer_epoch)
            self.groups = []
            await self.close()  # before accept: the client retries with backoff
            return
        await self.accept()
        self.accepted = True
        # The handshake just authenticated the session and `authorize` passed.
        self.access_checked_at = time.monotonic()
        self.watch_task = asyncio.create_task(self.watch_layer())
        await self.joined()

    async def subscribe(self) -> bool:
        """Join the groups. While the layer fails (Redis down or just restarted, its pooled
        connections stale) keep the handshake waiting and retry every 0.25 s, for up to
        CHANNEL_SUBSCRIBE_WAIT_SECONDS: a client that reconnects during a short outage is let
        in the moment Redis is back, instead of being refused and sent into a growing backoff
        (fault scenario a: refused clients came back up to 10 s after Redis did)."""
        deadline = time.monotonic() + settings.CHANNEL_SUBSCRIBE_WAIT_SECONDS
        while True:
            # Failures noted from here on may have cost this socket events.
            self.layer_epoch = layers.layer_epoch()
            try:
                for group in self.groups:
                    await self.channel_layer.group_add(group, self.channel_name)
                self.subscribed = True
                return True
            except Exception:
                if time.monotonic() + 0.25 >= deadline:
                    return False
                await asyncio.sleep(0.25)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        """Leave the groups (Redis may be down: membership expires anyway), then the usual."""
        if self.watch_task is not None:
            self.watch_task.cancel()
        await self.finish_frames()
        await self.leave_groups()
        await self.end_presence()
        await super().websocket_disconnect(message)

    async def leave_groups(self) -> None:
        groups, self.groups = self.groups, []
        try:
            for group in groups:
                await self.channel_layer.group_discard(group, self.channel_name)
        except Exception:
            # Nobody missed an event: the membership expires, and sockets that did miss
            # something learn it from their own failed calls.
            logger.warning("%s: leaving groups failed", type(self).__name__)

    async def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close once (the watcher, a layer failure and a revocation may all ask)."""
        if self.closing:
            return
        self.closing = True
        await super().close(code=code, reason=reason)

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
        await self.leave_groups()
        await self.end_presence()
        await self.send_json(realtime.error_payload(self.access_gone_message, code="access_gone"))
        await self.close(code=ACCESS_GONE)

    async def access_holds(self, *, fresh: bool = False) -> bool:
        """The login behind the socket still stands and `allowed_now` still passes.

        Answered from the socket's cache while it is younger than SOCKET_ACCESS_RECHECK_SECONDS
        (no query per frame); `fresh=True` (an access-changed signal) always asks the
        database. Every change that can take access away sends that signal after commit, and
        a lost signal means a layer failure, which closes the socket for a resync anyway."""
        checked = self.access_checked_at
        now = time.monotonic()
        max_age = settings.SOCKET_ACCESS_RECHECK_SECONDS
        if not fresh and checked is not None and now - checked < max_age:
            return True
        holds = await db_call(self.access_holds_now)()
        self.access_checked_at = now if holds else None
        return holds

    def access_holds_now(self) -> bool:
        return self.session_holds_now() and self.allowed_now()

    def session_holds_now(self) -> bool:
        """The socket's session still authenticates its user: it was not logged out (the
        session row is gone), the user is active and their password hash is unchanged.
        Reads the session afresh: scope["session"] is the copy loaded at the handshake."""
        session = self.scope.get("session")
        if session is None:  # mounted without SessionMiddleware (unit tests): nothing to check
            return True
        if not session.session_key:
            return False
        return session_user_id(session.session_key) == self.user.pk

    # --- client frames --------------------------------------------------------------------

    # channels dispatches a consumer's messages one at a time, the client's frames and the
    # group's events alike, taking one of each in turn. A frame that waits on the database
    # (a post: ~0.1-0.5 s while a busy room's posts queue for its lock) then held back every
    # event behind it: a client posting every 0.5 s got one group event per post, and its
    # live view fell ever further behind (fault scenario a: 4 of 400 messages arrived live).
    # So client frames go to a per-socket queue, handled in order by one task, while the
    # dispatch loop keeps forwarding events.
    frame_queue: asyncio.Queue | None = None
    frame_task: asyncio.Task | None = None
    # client_ids of this socket's posts not acked yet (`send_ack`).
    awaiting_ack: set[str]
    # A close waits in the frame queue behind the frames accepted before it.
    close_pending = False

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Check the frame (shape, type, rate limit: no database work) at once, in the
        dispatch loop, then queue it for `handle_frames`."""
        if self.access_revoked or self.closing or self.close_pending:
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
        except RecursionError:  # "[[[[..." a few KB deep: valid JSON, but no frame of ours
            await self.send_error("That frame is nested too deeply.")
            return
        if not isinstance(data, dict):
            await self.send_error('Expected a JSON object with a "type".')
            return
        kind = data.get("type")
        if kind == presence_live.HEARTBEAT:  # every socket carries its page's heartbeat
            await self.queue_frame(kind, "handle_heartbeat", data, {})
            return
        method = self.handlers.get(kind) if isinstance(kind, str) else None
        if method is None:
            known = ", ".join(sorted([*self.handlers, presence_live.HEARTBEAT]))
            await self.send_error(f"Unknown message type; expected one of: {known}.")
            return
        client_id = data.get("client_id")
        echo = {"client_id": client_id[:CLIENT_ID_ECHO_MAX]} if isinstance(client_id, str) else {}
        if not await self.within_rate_limit(kind, echo):
            return
        await self.queue_frame(kind, method, data, echo)

    async def queue_frame(
        self, kind: str, method: str, data: dict[str, Any], echo: dict[str, str]
    ) -> None:
        if self.frame_queue is None:
            self.frame_queue = asyncio.Queue()
            self.frame_task = asyncio.create_task(self.handle_frames())
        if self.frame_queue.qsize() >= MAX_QUEUED_FRAMES:
            await self.send_error(
                "Too many frames at once; wait a moment and send again.",
                code="slow_down",
                retry_after=pushback.RETRY_AFTER_SECONDS,
                **echo,
            )
            return
        if kind in POSTING_FRAMES and echo:
            self.awaiting_ack.add(echo["client_id"])
        self.frame_queue.put_nowait((kind, method, data, echo))

    async def handle_frames(self) -> None:
        """This socket's checked frames, one at a time, in the order they came."""
        queue = self.frame_queue
        while True:
            kind, method, data, echo = await queue.get()
            if kind is CLOSE:
                await self.close(code=data["code"])
                queue.task_done()
                continue
            try:
                # Frames already received are handled even if the socket is closing (a
                # flooder's accepted posts, a resync): only lost access drops them.
                if not self.access_revoked:
                    await self.handle_queued_frame(kind, method, data, echo)
            except Exception:  # one frame never ends the socket's frame handling
                logger.exception("%s: handling a %r frame failed", type(self).__name__, kind)
            finally:
                if kind in POSTING_FRAMES and echo:
                    self.awaiting_ack.discard(echo["client_id"])
                queue.task_done()

    async def handle_queued_frame(
        self, kind: str, method: str, data: dict[str, Any], echo: dict[str, str]
    ) -> None:
        if kind not in POSTING_FRAMES:
            await self.handle_frame(kind, method, data, echo)
            return
        with pushback.admitted() as admitted:
            if not admitted:
                await self.send_error(
                    pushback.MESSAGE,
                    code="slow_down",
                    retry_after=pushback.RETRY_AFTER_SECONDS,
                    **echo,
                )
                return
            await self.handle_frame(kind, method, data, echo)

    async def finish_frames(self) -> None:
        """On disconnect: let the frames already queued finish (a post the client sent just
        before closing is still saved), then stop the task."""
        task, queue = self.frame_task, self.frame_queue
        if task is None or queue is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(queue.join(), FRAMES_DRAIN_SECONDS)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def handle_frame(
        self, kind: str, method: str, data: dict[str, Any], echo: dict[str, str]
    ) -> None:
        try:
            if not await self.access_holds():
                await self.revoke()
                return
            await getattr(self, method)(data)
        except ValidationError as error:
            # The service's own check (the authority) refused: the cached answer was stale (a
            # change that sent no signal). Ask again and close the socket if access is gone.
            if getattr(error, "code", None) == "not_member" and not await self.access_holds(
                fresh=True
            ):
                await self.revoke()
                return
            await self.send_error(" ".join(error.messages), **echo)
        except Exception:
            logger.exception("%s failed on a %r frame", type(self).__name__, kind)
            await self.send_error("Something went wrong; nothing was saved. Try again.", **echo)

    async def handle_heartbeat(self, data: dict[str, Any]) -> None:
        """{"type": "heartbeat", "visible": bool, "idle": bool}: the page's state (issue 11)."""
        visible, idle = presence_live.parse_heartbeat(data)
        if self.presence is not None:
            await self.presence.heartbeat(visible=visible, idle=idle)
            return
        self.presence_backlog = []
        self.presence = presence_live.Connection(self.channel_layer, self.user)
        try:
            await self.presence.heartbeat(visible=visible, idle=idle)
        finally:
            await self.send_presence_snapshot()

    async def send_presence_snapshot(self) -> None:
        """Answer the first heartbeat with who of this socket's people is online or away.
        Frames say only what changes, and a change announced before this socket spoke
        presence never reached it: without this a page learnt of it only from its next
        refresh of the presence endpoint, and a refresh that raced the heartbeat (answered
        before a change that the socket then missed) left a dot wrong for a minute. Frames
        heard while this is read are newer, so they follow it."""
        try:
            payloads = await db_call(self.presence_snapshot)()
        except Exception:  # the page's refresh of the endpoint is the fallback
            logger.warning("%s: reading the presence snapshot failed", type(self).__name__)
            payloads = []
        for payload in payloads:
            if self.closing or self.access_revoked:
                break
            await self.send_json(payload)
        while self.presence_backlog:
            text = self.presence_backlog.pop(0)
            if not (self.closing or self.access_revoked):
                await self.send(text_data=text)
        self.presence_backlog = None

    def presence_snapshot(self) -> list[dict[str, Any]]:
        people = self.presence_people()
        if people is None:
            return []
        return presence_service.announced_frames(people, exclude_user_id=self.user.pk)

    async def end_presence(self) -> None:
        connection, self.presence = self.presence, None
        if connection is not None:
            await connection.close()

    async def within_rate_limit(self, kind: str, echo: dict[str, str]) -> bool:
        """Count the frame against the user's limit; past it, answer an error (and close the
        socket of a user who keeps going). Checked before any database work."""
        bucket = RATE_LIMITED_FRAMES.get(kind)
        if bucket is None:
            return True
        decision = await ratelimit.ahit(bucket=bucket, user_id=self.user.pk)
        if decision.allowed:
            return True
        await self.send_error(
            decision.message, code="rate_limited", retry_after=decision.retry_after, **echo
        )
        if decision.abusive:
            logger.warning("closing a flooding %s socket of user %s", kind, self.user.pk)
            await self.close_after_frames(RATE_LIMITED)
        return False

    async def close_after_frames(self, code: int) -> None:
        """Close once the frames already accepted are handled and answered (a flooder's first
        posts within the limit are saved and acked before the close); take no more."""
        self.close_pending = True
        if self.frame_queue is None:
            await self.close(code=code)
        else:
            self.frame_queue.put_nowait((CLOSE, "", {"code": code}, {}))

    # --- channel layer health -------------------------------------------------------------

    # channels' __call__ stores the layer's receive for this socket in `channel_receive` and
    # awaits it in a loop; an exception there (Redis down, timed out) would crash the consumer
    # and daphne would close the socket with 1011. We keep the layer's receive and hand the
    # loop a guarded one that turns a failure into a `layer.lost` event.
    @property
    def channel_receive(self):
        return self.guarded_layer_receive

    @channel_receive.setter
    def channel_receive(self, receive) -> None:
        self.layer_receive = receive

    async def guarded_layer_receive(self) -> dict[str, Any]:
        """The layer's next event for this socket. A failure once the socket has subscribed
        becomes a `layer.lost` event: it may have cost the socket events. A failure before
        that (the handshake is still waiting in `subscribe` for Redis to come back) costs
        nothing, as the client back-fills from its open; so keep trying instead. (channels
        starts this receive before the handshake: a `layer.lost` queued during an outage used
        to close the socket again just after Redis returned and let it in, fault scenario a.)
        A failure while `subscribe` runs is also noted below, and `watch_layer` compares it
        with the subscription's epoch."""
        if self.layer_failed:  # closing already: wait to be cancelled
            await asyncio.get_running_loop().create_future()
        logged = False
        while True:
            started = layers.layer_epoch()
            try:
                return await self.layer_receive()
            except Exception:
                if asyncio.current_task().cancelling():  # cancelled mid-call: stop here
                    raise asyncio.CancelledError from None
                if not logged:
                    logger.warning("%s: channel-layer receive failed", type(self).__name__)
                    logged = True
                layers.note_layer_failure(started=started)
                if self.subscribed:
                    self.layer_failed = True
                    return {"type": "layer.lost"}
            await asyncio.sleep(RECEIVE_RETRY_SECONDS)

    async def layer_lost(self, event: dict[str, Any]) -> None:
        await self.close(code=RESYNC)

    async def watch_layer(self) -> None:
        """While the socket is open: re-join its groups every CHANNEL_RESUBSCRIBE_SECONDS
        (jittered), and close it with RESYNC as soon as a layer call in this process failed
        since it subscribed or one of its memberships turns out lost: either way it may have
        missed events, which the client back-fills when it reconnects."""
        interval = settings.CHANNEL_RESUBSCRIBE_SECONDS
        wait = interval * random.uniform(0.5, 1.0)  # spread the sockets out
        while True:
            if await layers.wait_for_layer_failure(since=self.layer_epoch, timeout=wait):
                why = "a channel-layer call failed in this process"
                break
            wait = interval
            started = layers.layer_epoch()
            try:
                lost = await layers.refresh_memberships(
                    self.channel_layer, self.groups, self.channel_name
                )
            except Exception:
                layers.note_layer_failure(started=started)
                why = "re-subscribing failed"
                break
            if lost:
                why = "its group membership was lost"
                break
        logger.info("%s: closing for resync: %s", type(self).__name__, why)
        await self.close(code=RESYNC)

    # --- group events (no ORM work) -------------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Prepared frames skip Channels' per-event `aclose_old_connections()`: it costs a hop
        to the database thread for every delivery (18-22 % of the event loop's busy time in
        the benchmark's profile), and these handlers touch no database."""
        if message["type"] == realtime.FORWARD:
            await self.forward(message)
        elif message["type"] == realtime.USER_PUSH:
            await self.user_push(message)
        elif message["type"] == realtime.PRESENCE_STATUS:
            await self.presence_status(message)
        elif message["type"] == realtime.ROOM_ACTIVITY:
            await self.room_activity(message)
        else:
            await super().dispatch(message)

    async def forward(self, event: dict[str, Any]) -> None:
        """A payload prepared by a service: send it unchanged (skipping its originator when
        the event says so). A new post from this socket is acked first, if its save has not
        acked it yet (`send_ack`)."""
        if self.access_revoked or self.closing or event.get("exclude_user_id") == self.user.pk:
            return
        ack = event.get("ack")
        if ack is not None and event.get("author_id") == self.user.pk:
            await self.send_ack(ack)
        await self.send(text_data=event["text"])

    async def send_ack(self, ack: dict[str, Any]) -> None:
        """Ack a post this socket sent, once: from its save or from its broadcast, whichever
        comes first, so that the ack always precedes the post's own frame."""
        if ack["client_id"] in self.awaiting_ack:
            self.awaiting_ack.discard(ack["client_id"])
            await self.send_json(ack)

    async def user_push(self, event: dict[str, Any]) -> None:
        """Per-user pushes (notifications, unread counts) are for the notifications socket;
        other sockets are in the user's group only to hear access changes."""

    async def presence_status(self, event: dict[str, Any]) -> None:
        """Presence frames reach the sockets of pages that speak presence (they have sent a
        heartbeat); other clients never asked for them."""
        if self.presence is not None and not (self.access_revoked or self.closing):
            if self.presence_backlog is not None:  # the first heartbeat's answer comes first
                self.presence_backlog.append(event["text"])
                return
            await self.send(text_data=event["text"])

    async def room_activity(self, event: dict[str, Any]) -> None:
        """A room's unread counts changed (issue 11): only the notifications socket joins
        the group it is sent to (`realtime.unread_group`) and answers it."""

    async def access_changed(self, event: dict[str, Any]) -> None:
        if self.accepted and not await self.access_holds(fresh=True):
            await self.revoke()

    # --- helpers --------------------------------------------------------------------------

    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None:
        """daphne raises autobahn's Disconnected for a frame sent on a socket the client closed
        a moment earlier (before daphne delivered websocket.disconnect), which would crash the
        consumer (django/channels#1820, seen in the fault tier). Nothing is left to tell: the
        disconnect event follows and cleans up."""
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except Disconnected:
            self.closing = True

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
        started = layers.layer_epoch()
        try:
            await layers.group_send_retrying(self.channel_layer, group, event)
        except Exception:  # presence is best effort
            logger.warning("presence broadcast to %s failed", group, exc_info=True)
            layers.note_layer_failure(started=started)


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


def require_id(data: dict[str, Any], key: str) -> int:
    """The positive integer id under `key`, or ValidationError naming the field."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        if isinstance(value, str) and value.isdigit() and int(value) > 0:
            return int(value)
        noun = key.removesuffix("_id")  # "message_id" or "comment_id"
        raise ValidationError(f'"{key}" must be a {noun} id (a positive integer).')
    return value


def optional_client_id(data: dict[str, Any]) -> str:
    value = data.get("client_id")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError('"client_id" must be a string.')
    return value

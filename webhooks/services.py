"""Writes to webhooks (issue 15): views, tasks and the admin call these, nothing else saves them.

Incoming webhooks belong to a room and may be managed by anyone who reads the room
(`messaging.access.can_read_room`); outgoing webhooks belong to a board and are managed by
whoever manages the board (`kanban.access.can_manage_board`).
"""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from kanban import access as board_access
from kanban.models import Board
from messaging import access as room_access
from messaging.models import ChatMessage, ChatRoom
from messaging.services.posting import post_chat_message

from . import events as webhook_events
from . import ssrf
from .models import Event, IncomingWebhook, OutgoingWebhook, WebhookDelivery

NAME_MAX_LENGTH = 80


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError("Give the webhook a name: its posts show it.")
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(f"Names are limited to {NAME_MAX_LENGTH} characters.")
    return name


# --- incoming ----------------------------------------------------------------------------


def _require_room_reader(room: ChatRoom, user: User) -> None:
    if not room_access.can_read_room(user, room.pk):
        raise ValidationError("You are not a member of this room.", code="not_member")


@transaction.atomic
def create_incoming_webhook(
    *, room: ChatRoom, name: str, created_by: User
) -> tuple[IncomingWebhook, str]:
    """A webhook posting into `room` as a new bot user named `name`. Returns the webhook and
    its secret token (only its hash is stored: the caller shows it once)."""
    _require_room_reader(room, created_by)
    if room.is_direct:
        raise ValidationError("Incoming webhooks post into group rooms, not direct messages.")
    name = _clean_name(name)
    bot = User(
        username=f"webhook-{secrets.token_hex(6)}",
        display_name=name,
        is_bot=True,
    )
    bot.set_unusable_password()
    bot.save()
    # The room membership row is what lets the bot post (messaging.access: a bot reads the
    # group rooms it is a member of).
    room.members.add(bot)
    token = _new_token()
    webhook = IncomingWebhook.objects.create(
        room=room, name=name, bot=bot, token_hash=hash_token(token), created_by=created_by
    )
    return webhook, token


@transaction.atomic
def rotate_incoming_webhook(*, webhook: IncomingWebhook, rotated_by: User) -> str:
    """A new secret; the old URL stops working at once. Returns the new token."""
    _require_room_reader(webhook.room, rotated_by)
    if webhook.is_revoked:
        raise ValidationError("This webhook was deleted.")
    token = _new_token()
    webhook.token_hash = hash_token(token)
    webhook.rotated_at = timezone.now()
    webhook.save(update_fields=["token_hash", "rotated_at"])
    return token


@transaction.atomic
def revoke_incoming_webhook(*, webhook: IncomingWebhook, revoked_by: User) -> None:
    """Its URL stops working and its bot can no longer post; its messages stay."""
    _require_room_reader(webhook.room, revoked_by)
    if webhook.is_revoked:
        return
    webhook.revoked_at = timezone.now()
    webhook.save(update_fields=["revoked_at"])
    User.objects.filter(pk=webhook.bot_id).update(is_active=False)


def incoming_webhook_for_token(token: str) -> IncomingWebhook | None:
    """The live webhook a URL token names, or None (unknown, rotated or revoked alike)."""
    if not token or len(token) > 200:
        return None
    return (
        IncomingWebhook.objects.select_related("room", "bot")
        .filter(token_hash=hash_token(token), revoked_at__isnull=True)
        .first()
    )


def post_incoming_message(*, webhook: IncomingWebhook, text: str) -> ChatMessage:
    """Post `text` in the webhook's room as its bot, through the room's one write path
    (mentions, notifications, live delivery, outgoing webhooks)."""
    return post_chat_message(room=webhook.room, author=webhook.bot, content=text)


# --- outgoing ----------------------------------------------------------------------------


def _require_board_manager(board: Board, user: User) -> None:
    if not board_access.can_manage_board(user, board):
        raise ValidationError(
            "Only the board's creator and the organization's admins manage its webhooks."
        )


def clean_events(events: list[str]) -> list[str]:
    chosen = [e for e in Event.values if e in set(events)]
    unknown = set(events) - set(Event.values)
    if unknown:
        raise ValidationError(f"Unknown event(s): {', '.join(sorted(unknown))}.")
    if not chosen:
        raise ValidationError("Pick at least one event.")
    return chosen


def clean_url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > 500:
        raise ValidationError("URLs are limited to 500 characters.")
    try:
        ssrf.resolve(url)
    except ssrf.UnsafeURL as exc:
        raise ValidationError(str(exc), code="unsafe_url") from exc
    return url


@transaction.atomic
def create_outgoing_webhook(
    *, board: Board, url: str, events: list[str], created_by: User
) -> OutgoingWebhook:
    _require_board_manager(board, created_by)
    events = clean_events(events)
    url = clean_url(url)
    webhook = OutgoingWebhook.objects.create(
        board=board,
        url=url,
        events=events,
        secret=f"whsec_{secrets.token_hex(24)}",
        created_by=created_by,
    )
    webhook_events.forget_board(board.pk)
    return webhook


@transaction.atomic
def delete_outgoing_webhook(*, webhook: OutgoingWebhook, deleted_by: User) -> None:
    _require_board_manager(webhook.board, deleted_by)
    board_id = webhook.board_id
    webhook.delete()
    webhook_events.forget_board(board_id)


@transaction.atomic
def rotate_outgoing_secret(*, webhook: OutgoingWebhook, rotated_by: User) -> str:
    _require_board_manager(webhook.board, rotated_by)
    webhook.secret = f"whsec_{secrets.token_hex(24)}"
    webhook.save(update_fields=["secret"])
    return webhook.secret


@transaction.atomic
def send_test_ping(*, webhook: OutgoingWebhook, sent_by: User) -> WebhookDelivery:
    """A `ping` delivery to this webhook only (signed and retried like any other)."""
    from .delivery import queue_delivery

    _require_board_manager(webhook.board, sent_by)
    data = {
        "board": {"id": webhook.board_id, "name": webhook.board.name},
        "sent_by": sent_by.username,
    }
    return queue_delivery(webhook=webhook, event="ping", data=data)

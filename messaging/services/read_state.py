"""Read pointers and muting per user and room (issue 11).

`mark_room_read` moves a user's pointer forward (never back), reads their notifications for
the messages it passes, and tells every tab of that user the room's new counts
(`room_unread`); in a small room the others see "Seen by ..." (`read_receipt`). `set_room_muted`
keeps a room out of the nav total. Both return the room's counts for the user
(`messaging.selectors.unread.room_unread`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from messaging import access, realtime
from messaging.models import ChatMessage, ChatRoom, RoomReadState
from messaging.selectors.unread import room_unread, shows_read_receipts
from messaging.services.notifications import mark_read_up_to

if TYPE_CHECKING:
    from accounts.models import User


def _not_member() -> ValidationError:
    return ValidationError("You are not a member of this room.", code="not_member")


def _check_reader(room: ChatRoom, user: User) -> None:
    if not access.can_read_room(user, room.pk):
        raise _not_member()


def _counts(user: User, room: ChatRoom) -> dict[str, Any]:
    item = room_unread(user, room.pk)
    if item is None:  # access ended since the check at the start of the transaction
        raise _not_member()
    return item


def _push_counts_on_commit(user: User, room: ChatRoom) -> dict[str, Any]:
    """The room's counts for the user now; every notification socket of theirs gets them
    after commit (the other tabs' badges clear)."""
    item = _counts(user, room)
    realtime.push_to_user_on_commit(user.pk, realtime.room_unread_payload(item))
    return item


@transaction.atomic
def mark_room_read(*, room: ChatRoom, user: User, message_id: int) -> dict[str, Any]:
    """The user has seen the room up to `message_id` (a message of this room). The pointer
    never moves backwards: an older id (a slow tab) changes nothing and pushes nothing."""
    _check_reader(room, user)
    if not ChatMessage.objects.filter(pk=message_id, chat_room=room).exists():
        raise ValidationError("That message is not in this room.", code="invalid_message")
    state, _ = RoomReadState.objects.get_or_create(room=room, user=user)
    moved = RoomReadState.objects.filter(pk=state.pk, last_read_message_id__lt=message_id).update(
        last_read_message_id=message_id, updated_at=timezone.now()
    )
    if not moved:
        return _counts(user, room)
    mark_read_up_to(user=user, room=room, message_id=message_id)
    if shows_read_receipts(room, len(access.room_reader_ids(room.pk))):
        realtime.broadcast_on_commit(
            realtime.room_group(room.pk),
            realtime.read_receipt_payload(room_id=room.pk, user=user, message_id=message_id),
        )
    return _push_counts_on_commit(user, room)


@transaction.atomic
def set_room_muted(*, room: ChatRoom, user: User, muted: bool) -> dict[str, Any]:
    """Mute (or unmute) a room for the user: its messages leave the nav total (its mentions
    still count) and no e-mail is sent about it."""
    _check_reader(room, user)
    state, created = RoomReadState.objects.get_or_create(
        room=room, user=user, defaults={"muted": muted}
    )
    if not created and state.muted != muted:
        state.muted = muted
        state.save(update_fields=["muted", "updated_at"])
    elif not created:
        return _counts(user, room)
    return _push_counts_on_commit(user, room)

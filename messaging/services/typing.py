"""Typing indicators. Each typing event refreshes the user's UserTypingStatus row; the
broadcast to the other members is throttled per user and room through the Django cache (shared
across processes when the cache is Redis). Clients drop a typist after `expires_in` seconds
without a new event, so a lost stop_typing never leaves a ghost."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from messaging import realtime
from messaging.models import ChatRoom, UserTypingStatus

logger = logging.getLogger(__name__)


def _throttle_key(room_id: int, user_id: int) -> str:
    return f"messaging:typing:{room_id}:{user_id}"


@transaction.atomic
def record_typing(*, room: ChatRoom, user: User) -> bool:
    """Mark `user` as typing in `room` now; tell the other members unless they were told
    within the last settings.TYPING_THROTTLE_SECONDS. Returns whether a broadcast was scheduled."""
    UserTypingStatus.objects.update_or_create(
        chat_room=room, user=user, defaults={"last_update": timezone.now()}
    )
    # cache.add is atomic: only the first event in each window wins it. With the cache down,
    # every event is announced (the consumer's rate limit still bounds them).
    try:
        first = cache.add(
            _throttle_key(room.pk, user.pk), True, timeout=settings.TYPING_THROTTLE_SECONDS
        )
    except Exception:
        logger.warning("typing throttle: cache unavailable", exc_info=True)
        first = True
    if not first:
        return False
    payload = {
        **realtime.typing_payload(user, typing=True),
        "expires_in": settings.TYPING_EXPIRY_SECONDS,
    }
    realtime.broadcast_on_commit(realtime.room_group(room.pk), payload, exclude_user_id=user.pk)
    return True


@transaction.atomic
def clear_typing(*, room: ChatRoom, user: User) -> None:
    """Mark `user` as no longer typing in `room` and tell the other members."""
    UserTypingStatus.objects.filter(chat_room=room, user=user).delete()
    # The next keystroke should be announced at once, not after the throttle window.
    try:
        cache.delete(_throttle_key(room.pk, user.pk))
    except Exception:
        logger.warning("typing throttle: cache unavailable", exc_info=True)
    realtime.broadcast_on_commit(
        realtime.room_group(room.pk),
        realtime.typing_payload(user, typing=False),
        exclude_user_id=user.pk,
    )

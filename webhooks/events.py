"""Emitting board events to outgoing webhooks, cheaply.

Services call `emit_on_commit`: after commit, one cache read decides whether any active
webhook of the board subscribes to the event; only then is a Celery task queued (ids and
plain data only). The answer is cached per board and dropped whenever the board's webhooks
change (`forget_board`), so a chat message on a board without webhooks costs no SQL here.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Safety net only: every change to a board's webhooks drops the key at once.
CACHE_SECONDS = 600


def _key(board_id: int) -> str:
    return f"webhooks:events:{board_id}"


def subscribed_events(board_id: int) -> frozenset[str]:
    """Events some active webhook of the board subscribes to (cached).

    While the cache's Redis is unreachable the database answers instead, uncached, so the
    hook gets as far as queuing the task. Whether that succeeds is the broker's matter: with
    a broker of its own (or after a Sentinel failover) the webhooks get the post; when the
    broker is the same dead Redis, the enqueue fails and is logged, and the event is lost."""
    try:
        events = cache.get(_key(board_id))
    except RedisError as exc:
        logger.debug("webhook events of board %s read past the cache: %s", board_id, exc)
        return _read_subscribed_events(board_id)
    if events is None:
        events = _read_subscribed_events(board_id)
        # If the set fails, the answer stands all the same; the next post tries the cache.
        with contextlib.suppress(RedisError):
            cache.set(_key(board_id), sorted(events), CACHE_SECONDS)
    return frozenset(events)


def _read_subscribed_events(board_id: int) -> frozenset[str]:
    from .models import OutgoingWebhook

    rows = OutgoingWebhook.objects.filter(board_id=board_id, active=True).values_list(
        "events", flat=True
    )
    return frozenset(event for row in rows for event in row)


def forget_board(board_id: int) -> None:
    """Drop the cached answer, after commit (the webhook services call it)."""
    transaction.on_commit(lambda: cache.delete(_key(board_id)), robust=True)


def emit_on_commit(
    *,
    board_id: int | None,
    event: str,
    object_id: int,
    actor_id: int | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """After commit, queue `event` for the board's subscribed webhooks, if there are any."""
    if board_id is None:  # a direct room: no board, no webhooks
        return

    def emit() -> None:
        if event not in subscribed_events(board_id):
            return
        from .tasks import fan_out_event

        fan_out_event.delay(board_id, event, object_id, actor_id, extra or {})

    transaction.on_commit(emit, robust=True)

"""Experiment, not shipped code: our app with the consumer changes the bench recommends,
applied by monkeypatch so their effect is measured side by side with the real consumer
(target `ours-exp`). The real changes belong in messaging/consumers/; BENCH_EXPERIMENT
(comma list) picks which are applied:

fwd   Channels 4.2+ `AsyncConsumer.dispatch` awaits `aclose_old_connections()` before every
      handler: a hop to the one thread-sensitive executor thread for *every group event*
      too. `forward` does no ORM work (STYLE §3), so it can skip it; client frames and
      `access_changed` keep the clean-up.
pool  `database_sync_to_async` defaults to thread_sensitive=True: every consumer of the
      process runs its ORM calls on one shared thread, which spends most of its time
      waiting for PostgreSQL (round trips, COMMIT's WAL flush). thread_sensitive=False runs
      them on the event loop's default thread pool instead (one DB connection per worker
      thread). Each call opens and closes its own transaction, so nothing relies on staying
      on one thread.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from channels.db import DatabaseSyncToAsync

from kanban_board.asgi import application  # noqa: F401 - sets Django up; the app under test
from messaging import realtime
from messaging.consumers import base, chat
from messaging.consumers.base import MessagingConsumer

APPLIED = [x for x in os.environ.get("BENCH_EXPERIMENT", "fwd").split(",") if x]
_stock_dispatch = MessagingConsumer.dispatch


async def dispatch(self: MessagingConsumer, message: dict[str, Any]) -> None:
    if message.get("type") == realtime.FORWARD:
        await self.forward(message)  # ORM-free: no close_old_connections hop
        return
    await _stock_dispatch(self, message)


if "fwd" in APPLIED:
    MessagingConsumer.dispatch = dispatch
if "pool" in APPLIED:
    pooled = functools.partial(DatabaseSyncToAsync, thread_sensitive=False)
    base.database_sync_to_async = pooled  # session_holds
    chat.database_sync_to_async = pooled  # authorize, access checks, post_chat_message
unknown = set(APPLIED) - {"fwd", "pool"}
if unknown:
    raise RuntimeError(f"unknown BENCH_EXPERIMENT parts: {sorted(unknown)}")

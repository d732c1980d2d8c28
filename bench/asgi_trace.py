"""Investigation aid, not shipped code: our app with timestamps around each stage of a chat
message's trip through the consumer (`--trace DIR` runs target `ours` on it). Wrappers are
monkeypatched around the real functions, so the code path is the real one plus a clock read
and a line of log per stage. `bench.trace_report` turns the log into per-stage latencies.

Stages, keyed by the bench token in the message text:
  R0/R1  consumer.receive entered / returned
  L0/L1  rate-limit check        A0/A1  access check (session + membership)
  P0/P1  post_chat_message in the DB thread
  B0/B1  broadcast_now (async_to_sync group_send) on commit
  F      each socket's `forward` of the broadcast
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from kanban_board.asgi import application  # noqa: F401 - sets Django up; the app under test
from messaging import realtime
from messaging.consumers import chat
from messaging.consumers.base import MessagingConsumer

_log = open(  # noqa: SIM115 - lives as long as the process
    os.path.join(os.environ.get("BENCH_TRACE_DIR", "."), f"trace-{os.getpid()}.log"),
    "a",
    buffering=1,
)
_token = re.compile(r"bench (\S+) (\d+) (\d+) (\d+)")


def mark(stage: str, token: str | None) -> None:
    if token:
        _log.write(f"{time.monotonic_ns()} {stage} {token}\n")


def token_of(text: str | None) -> str | None:
    m = _token.search(text or "")
    return ":".join(m.groups()) if m else None


def around(cls: type, name: str, before: str, after: str) -> None:
    original = getattr(cls, name)

    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = getattr(self, "_bench_token", None)
        mark(before, token)
        try:
            return await original(self, *args, **kwargs)
        finally:
            mark(after, token)

    setattr(cls, name, wrapper)


_receive = MessagingConsumer.receive


async def receive(self: MessagingConsumer, text_data: str | None = None, bytes_data=None) -> None:
    self._bench_token = token_of(text_data)
    mark("R0", self._bench_token)
    try:
        await _receive(self, text_data, bytes_data)
    finally:
        mark("R1", self._bench_token)


MessagingConsumer.receive = receive
if hasattr(MessagingConsumer, "within_rate_limit"):
    around(MessagingConsumer, "within_rate_limit", "L0", "L1")
if hasattr(MessagingConsumer, "access_holds"):
    around(MessagingConsumer, "access_holds", "A0", "A1")
else:
    around(chat.ChatRoomConsumer, "allowed_now", "A0", "A1")

_post = chat.post_chat_message


def post_chat_message(**kwargs: Any) -> Any:
    token = token_of(kwargs.get("content"))
    mark("P0", token)
    try:
        return _post(**kwargs)
    finally:
        mark("P1", token)


chat.post_chat_message = post_chat_message

_broadcast_now = realtime.broadcast_now


def broadcast_now(group: str, payload: dict[str, Any], **kwargs: Any) -> bool:
    token = token_of(payload.get("message"))
    mark("B0", token)
    try:
        return _broadcast_now(group, payload, **kwargs)
    finally:
        mark("B1", token)


realtime.broadcast_now = broadcast_now
_forward = MessagingConsumer.forward


async def forward(self: MessagingConsumer, event: dict[str, Any]) -> None:
    mark("F", token_of(event.get("text")))
    await _forward(self, event)


MessagingConsumer.forward = forward

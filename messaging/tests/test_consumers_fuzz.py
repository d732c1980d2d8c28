"""Input robustness of both chat consumers, by property: whatever a client sends (any JSON
value, any text, huge or deeply nested frames, every field with every wrong type), the socket
answers only well-formed protocol frames, stays open, saves exactly the valid messages (once per
client_id) and nothing else, and still works for a normal message afterwards.

Each test opens ONE socket (in-memory layer) in an event loop of its own and lets Hypothesis
throw frames at it; after every frame it sends a probe frame whose error reply marks the end of
that frame's processing, so the row count can be checked frame by frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.db import connections
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from messaging.consumers.base import MAX_FRAME_CHARS
from messaging.models import ChatMessage, TaskThreadComment
from messaging.routing import websocket_urlpatterns
from messaging.services.posting import CLIENT_ID_MAX_LENGTH

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5
EXAMPLES = 60
SERVER_TYPES = {
    "error",
    "ack",
    "chat_message",
    "new_comment",
    "user_typing",
    "user_stop_typing",
    "user_join",
    "user_leave",
    "notification",
    "unread_count",
    "presence",  # issue 11: once a fuzzed heartbeat made the socket speak presence
}

# --- strategies -------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
huge_text = st.builds(lambda n, c: c * n, st.integers(3_900, 12_000), st.sampled_from("x é€😀 "))
awkward_text = st.sampled_from(
    ["", " ", "\n\t ", "\x00", "a\x00b", "\ud800", "hi \udfff", "@alice", "@bob hi", "\u200b"]
)
texts = st.text(max_size=200) | huge_text | awkward_text
field_values = texts | json_values
frame_types = (
    st.sampled_from(
        [
            "chat_message",
            "comment",
            "typing",
            "stop_typing",
            "heartbeat",
            "ack",
            "error",
            "",
            "CHAT_MESSAGE",
        ]
    )
    | json_values
)


def typed_frames(text_field: str) -> st.SearchStrategy[dict]:
    """Objects with a "type" and any mix of the protocol's fields, each of any type."""
    return st.fixed_dictionaries(
        {"type": frame_types},
        optional={
            text_field: field_values,
            "message": field_values,
            "comment": field_values,
            "client_id": st.text(max_size=80) | json_values,
            "extra": json_values,
        },
    )


def raw_frames(text_field: str, valid_type: str) -> st.SearchStrategy[str]:
    deep = st.integers(500, 4_000).map(lambda n: "[" * n + "]" * n)
    deep_field = st.integers(500, 4_000).map(
        lambda n: f'{{"type": "{valid_type}", "{text_field}": ' + "[" * n + "]" * n + "}"
    )
    near_valid = st.fixed_dictionaries(
        {"type": st.just(valid_type), text_field: texts},
        optional={"client_id": st.none() | st.text(max_size=70)},
    )
    return st.one_of(
        near_valid.map(json.dumps),
        typed_frames(text_field).map(json.dumps),
        json_values.map(json.dumps),
        st.text(max_size=300),  # mostly not JSON at all
        deep,
        deep_field,
        st.sampled_from(["{", "null", "[]", '"\\ud800"', "1e999", '{"type": null}', "\x00"]),
    )


# --- the oracle -------------------------------------------------------------------------


def saves(text: str, *, valid_type: str, text_field: str) -> tuple[bool, str]:
    """Whether this frame should save a row, and the client_id it dedupes on."""
    if len(text) > MAX_FRAME_CHARS:
        return False, ""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return False, ""
    if not isinstance(data, dict) or data.get("type") != valid_type:
        return False, ""
    content, client_id = data.get(text_field), data.get("client_id", "")
    if client_id is None:
        client_id = ""
    if not isinstance(content, str) or not isinstance(client_id, str):
        return False, ""
    content, client_id = content.strip(), client_id.strip()
    if not content or len(content) > django_settings.MESSAGE_MAX_LENGTH:
        return False, ""
    if len(client_id) > CLIENT_ID_MAX_LENGTH:
        return False, ""
    # Text no database column can store: NUL (PostgreSQL) and lone surrogates (UTF-8).
    if "\x00" in content or any(0xD800 <= ord(ch) <= 0xDFFF for ch in content):
        return False, ""
    return True, client_id


# --- the harness ------------------------------------------------------------------------


@dataclass
class Socket:
    """A connected communicator driven from sync code through its own event loop."""

    path: str
    user: object
    valid_type: str
    text_field: str
    probes: int = 0
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def connect(self) -> None:
        self.run(self.aconnect())

    async def aconnect(self) -> None:
        self.communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), self.path)
        self.communicator.scope["user"] = self.user
        connected, code = await self.communicator.connect(timeout=TIMEOUT)
        assert connected, f"refused ({code})"

    def send_frame(self, text: str) -> list[dict]:
        """exchange(), reporting a crashed consumer as a failure of this frame (and opening a
        fresh socket, so the next examples do not all fail with it)."""
        try:
            return self.run(self.exchange(text))
        except AssertionError:
            raise
        except Exception as exc:
            self.run(self.aconnect())
            raise AssertionError(f"the consumer crashed on {text[:120]!r}: {exc!r}") from exc

    async def exchange(self, text: str) -> list[dict]:
        """Send one frame, then a probe (an invalid message with a fresh client_id) whose
        error reply comes after everything the frame caused; return the frames before it."""
        self.probes += 1
        marker = f"probe-{self.probes}"
        probe = {"type": self.valid_type, self.text_field: None, "client_id": marker}
        # send_input, not send_to: an empty text frame is a frame too.
        await self.communicator.send_input({"type": "websocket.receive", "text": text})
        await self.communicator.send_input({"type": "websocket.receive", "text": json.dumps(probe)})
        replies = []
        while True:
            output = await self.communicator.receive_output(timeout=TIMEOUT)
            assert output["type"] == "websocket.send", f"the socket closed: {output}"
            reply = json.loads(output["text"])
            assert isinstance(reply, dict), reply
            assert reply.get("type") in SERVER_TYPES, reply
            if reply["type"] == "error":
                assert isinstance(reply.get("message"), str) and reply["message"], reply
                if reply.get("client_id") == marker:
                    return replies
            replies.append(reply)

    def close(self) -> None:
        # A crashed consumer re-raises here too; the test has already reported it.
        with contextlib.suppress(Exception):
            self.run(self.communicator.disconnect())
        self.loop.close()


def fuzz(socket: Socket, *, model, final: Callable[[], dict]) -> None:
    valid_type, text_field = socket.valid_type, socket.text_field
    seen_client_ids: set[str] = set()
    stats = {"frames": 0, "saved": 0}

    def frame(**fields) -> str:
        return json.dumps({"type": valid_type, **fields})

    # The settings belong on the property (they sat on `frame`, where they did nothing, so
    # each example had hypothesis's default 200 ms deadline: a wall-clock bound that is not
    # the point of this test).
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(text=raw_frames(text_field, valid_type))
    @example(text=frame(**{text_field: "a\x00b"}))  # PostgreSQL cannot store NUL
    @example(text=frame(**{text_field: "hi \ud800"}))  # nor can UTF-8 a lone surrogate
    @example(text=frame(**{text_field: " \n\t "}))
    @example(text=frame(**{text_field: "x" * django_settings.MESSAGE_MAX_LENGTH}))
    @example(text=frame(**{text_field: "x" * (django_settings.MESSAGE_MAX_LENGTH + 1)}))
    @example(text=frame(**{text_field: "ok", "client_id": "c" * CLIENT_ID_MAX_LENGTH}))
    @example(text=frame(**{text_field: "ok", "client_id": "c" * (CLIENT_ID_MAX_LENGTH + 1)}))
    @example(text=frame(**{text_field: "again", "client_id": "dup"}))
    @example(text=frame(**{text_field: "again", "client_id": " dup "}))  # the same id, stripped
    @example(text=frame(**{text_field: 5, "client_id": "wrong-type"}))
    @example(text=frame(**{text_field: "ok", "client_id": 7}))
    @example(text="[" * 3000 + "]" * 3000)
    def one_frame(text: str) -> None:
        before = model.objects.count()
        should_save, client_id = saves(text, valid_type=valid_type, text_field=text_field)
        if should_save and client_id and client_id in seen_client_ids:
            should_save = False  # a retry: acked with the first row, nothing new
        replies = socket.send_frame(text)
        after = model.objects.count()
        stats["frames"] += 1
        assert after - before == int(should_save), (text[:200], replies[:3])
        if should_save:
            stats["saved"] += 1
            if client_id:
                seen_client_ids.add(client_id)
                acks = [r for r in replies if r["type"] == "ack"]
                assert acks and acks[0]["client_id"] == client_id, replies
        elif valid_type_frame(text, valid_type) and not (
            client_id and client_id in seen_client_ids
        ):
            # A refused message is answered with an error, never silently dropped.
            assert any(r["type"] == "error" for r in replies), (text[:200], replies)

    one_frame()
    # Still connected and still working.
    before = model.objects.count()
    replies = socket.send_frame(json.dumps(final()))
    assert model.objects.count() == before + 1
    assert any(r["type"] == "ack" for r in replies), replies
    assert stats["frames"] >= EXAMPLES // 2
    assert stats["saved"] >= 3  # the valid explicit examples at least


def valid_type_frame(text: str, valid_type: str) -> bool:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return (
        isinstance(data, dict) and data.get("type") == valid_type and len(text) <= MAX_FRAME_CHARS
    )


@pytest.fixture
def unlimited(settings):
    """This is about input, not flooding: lift the per-user rate limits."""
    settings.CHAT_RATE_LIMIT = settings.TYPING_RATE_LIMIT = "1000000/10s"


@pytest.fixture
def close_connections():
    yield
    for conn in connections.all():
        conn.close()


def test_chat_socket_survives_any_frame(room, alice, unlimited, close_connections):
    socket = Socket(f"/ws/chat-room/{room.pk}/", alice, "chat_message", "message")
    socket.connect()
    try:
        fuzz(
            socket,
            model=ChatMessage,
            final=lambda: {"type": "chat_message", "message": "still here", "client_id": "final"},
        )
    finally:
        socket.close()


def test_comment_socket_survives_any_frame(task, alice, unlimited, close_connections):
    socket = Socket(f"/ws/task-comments/{task.pk}/", alice, "comment", "comment")
    socket.connect()
    try:
        fuzz(
            socket,
            model=TaskThreadComment,
            final=lambda: {"type": "comment", "comment": "still here", "client_id": "final"},
        )
    finally:
        socket.close()

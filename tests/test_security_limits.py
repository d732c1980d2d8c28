"""WebSocket size limits on a real daphne.

daphne 4.2.3 has the limit built in: `--websocket-max-message-size` and
`--websocket-max-frame-size` (bytes, default 1 MiB each) are passed to autobahn's
`maxMessagePayloadSize` / `maxFramePayloadSize`, which fail the connection as soon as a frame
header declares a length over the limit, before the payload is buffered or reaches Django.
Every launch goes through `kanban_board.serve`, which passes both flags from
settings.WEBSOCKET_MAX_MESSAGE_BYTES; these tests use the session's ordinary `live_daphne`, so
they prove the real launcher sets them.

How it fails: daphne leaves autobahn's `failByDrop` option at its default (True), so the
server drops the TCP connection at once instead of sending a 1009 close frame; the client
sees an abnormal closure (1006, no close frame). Getting a clean 1009 would need a custom
launcher that sets failByDrop=False, which is not worth its upkeep: only a hostile client
sends such frames (the page caps a message at 4000 characters).

A chat message is at most MESSAGE_MAX_LENGTH (4000) characters; as a JSON frame that is at
most ~24 KB even if every character had to be escaped, so 64 KiB is a generous server limit.
Below it, the consumer refuses frames longer than MAX_FRAME_CHARS with an error frame and the
service refuses content over 4000 characters.
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from messaging.consumers.base import MAX_FRAME_CHARS
from messaging.models import ChatMessage
from tests.clients import LiveSession, Workspace, recv_json, wait_closed

WS_MAX_BYTES = settings.WEBSOCKET_MAX_MESSAGE_BYTES
MESSAGE_TOO_BIG = 1009  # what autobahn sends when failByDrop is off


@pytest.fixture
def alice_room_socket(live_daphne, transactional_db, alice):
    workspace = Workspace.create(alice)
    session = LiveSession(live_daphne).log_in("alice")
    with session.socket(workspace.socket_paths()["chat-room"]) as ws:
        yield ws, workspace


def chat_frame(text: str, client_id: str) -> str:
    # Like the browser's JSON.stringify: non-ASCII characters are sent as they are.
    return json.dumps(
        {"type": "chat_message", "message": text, "client_id": client_id}, ensure_ascii=False
    )


def test_oversized_frame_closes_the_connection(alice_room_socket, live_daphne):
    ws, workspace = alice_room_socket
    ws.send(chat_frame("ok", "small"))
    assert recv_json(ws, type_="chat_message")["message"] == "ok"

    ws.send(chat_frame("x" * (256 * 1024), "huge"))
    elapsed, code = wait_closed(ws, timeout=5)
    print(f"\n256 KiB frame: connection closed after {elapsed:.3f} s, close frame code {code}")
    assert code in (None, MESSAGE_TOO_BIG)  # None: dropped without a close frame (1006)
    assert list(ChatMessage.objects.values_list("content", flat=True)) == ["ok"]

    # The server is unharmed and the user can reconnect.
    session = LiveSession(live_daphne).log_in("alice")
    with session.socket(workspace.socket_paths()["chat-room"]) as again:
        again.send(chat_frame("back", "again"))
        assert recv_json(again, type_="chat_message")["message"] == "back"


def test_longest_valid_message_fits_under_the_limit(alice_room_socket):
    """A maximal message of 4-byte characters is accepted, so the limit cannot bite a user."""
    ws, _ = alice_room_socket
    longest = "\U0001f600" * settings.MESSAGE_MAX_LENGTH
    frame = chat_frame(longest, "longest")
    assert len(frame.encode()) < WS_MAX_BYTES
    ws.send(frame)
    assert recv_json(ws, type_="chat_message")["message"] == longest


def test_frame_under_server_limit_but_over_app_limit_gets_an_error(alice_room_socket):
    """Between the app's limits and daphne's: an error frame, the socket stays usable."""
    ws, _ = alice_room_socket
    ws.send(chat_frame("y" * (MAX_FRAME_CHARS + 10), "big"))
    error = recv_json(ws, type_="error")
    assert "too large" in error["message"]

    ws.send(chat_frame("z" * (settings.MESSAGE_MAX_LENGTH + 1), "long"))
    assert recv_json(ws, type_="error")["message"]

    ws.send(chat_frame("still here", "after"))
    assert recv_json(ws, type_="chat_message")["message"] == "still here"
    assert not ChatMessage.objects.filter(content__startswith="y").exists()
    assert not ChatMessage.objects.filter(content__startswith="z").exists()

"""WebSocket handshakes against a real daphne: cross-site WebSocket hijacking is refused.

A browser sends the page's Origin with every WebSocket handshake and attaches the site's
cookies whatever page opened the socket, so a foreign page could otherwise talk to TaskFlow
as the logged-in victim. Every socket must refuse a handshake whose Origin is not one of
ALLOWED_HOSTS (look-alike suffixes, `null` and a missing Origin included), while the same
handshake from the site's own origin, with the same session cookie, is accepted; the
accepted cases prove the refusals are about the Origin and not a broken set-up.

The helpers (logging in over HTTP, opening sockets) live in tests/clients.py.
"""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import InvalidStatus

from tests.clients import LiveSession, Workspace, open_socket, recv_json

# --- the Origin tests -------------------------------------------------------------------

SOCKETS = ("chat-room", "task-comments", "notifications")

FOREIGN_ORIGINS = {
    "foreign site": "http://evil.example",
    "foreign https site": "https://evil.example",
    "look-alike suffix of 127.0.0.1": "http://127.0.0.1.evil.example",
    "look-alike suffix of localhost": "http://localhost.evil.example",
    "look-alike prefix": "http://evil-localhost",
    "userinfo trick": "http://127.0.0.1@evil.example",
    "null (sandboxed iframe, file:, data:)": "null",
    "missing Origin header": None,
}


@pytest.fixture
def alice_live(live_daphne, transactional_db, alice):
    """alice logged in over HTTP on the live server, with a workspace of her own."""
    session = LiveSession(live_daphne).log_in("alice")
    return session, Workspace.create(alice)


@pytest.mark.parametrize("socket_name", SOCKETS)
def test_foreign_origin_handshake_is_refused(alice_live, socket_name):
    """Every foreign Origin in FOREIGN_ORIGINS, with alice's valid session cookie, gets 403.
    (One test per socket, looping over origins: each case costs only a handshake.)"""
    session, workspace = alice_live
    path = workspace.socket_paths()[socket_name]
    outcome = {}
    for label, origin in FOREIGN_ORIGINS.items():
        try:
            open_socket(session.server, path, cookie=session.cookie_header(), origin=origin).close()
        except InvalidStatus as refused:
            outcome[label] = refused.response.status_code
        else:
            outcome[label] = "accepted"
    assert outcome == dict.fromkeys(FOREIGN_ORIGINS, 403)


def test_own_origin_handshake_is_accepted_on_every_socket(alice_live):
    """The control case: the same cookie and paths from the site's own origin (the scheme, host
    and port the client connected to) work, and each socket really serves alice (a frame
    round-trips or the initial count arrives)."""
    session, workspace = alice_live
    origin = "same"
    paths = workspace.socket_paths()

    with session.socket(paths["notifications"], origin=origin) as ws:
        assert recv_json(ws, type_="unread_count")["count"] == 0

    with session.socket(paths["chat-room"], origin=origin) as ws:
        ws.send(json.dumps({"type": "chat_message", "message": "origin ok", "client_id": "c1"}))
        assert recv_json(ws, type_="chat_message")["message"] == "origin ok"

    with session.socket(paths["task-comments"], origin=origin) as ws:
        ws.send(json.dumps({"type": "comment", "comment": "origin ok", "client_id": "c2"}))
        assert recv_json(ws, type_="new_comment")["comment"] == "origin ok"


@pytest.mark.parametrize("socket_name", SOCKETS)
def test_own_origin_without_session_is_refused(live_daphne, transactional_db, alice, socket_name):
    """Origin alone is not enough: an anonymous handshake is refused too."""
    path = Workspace.create(alice).socket_paths()[socket_name]
    with pytest.raises(InvalidStatus) as refused:
        open_socket(live_daphne, path, cookie=None)
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("socket_name", ["chat-room", "task-comments"])
def test_stranger_handshake_is_refused(live_daphne, transactional_db, alice, bob, socket_name):
    """bob is logged in and uses the right Origin, but the room/task is not his."""
    path = Workspace.create(alice).socket_paths()[socket_name]
    bob_session = LiveSession(live_daphne).log_in("bob")
    with pytest.raises(InvalidStatus) as refused:
        bob_session.socket(path)
    assert refused.value.response.status_code == 403


def test_same_host_other_port_is_refused(alice_live):
    session, workspace = alice_live
    other_port = f"http://127.0.0.1:{session.server.port + 1}"
    with pytest.raises(InvalidStatus):
        open_socket(
            session.server,
            workspace.socket_paths()["notifications"],
            cookie=session.cookie_header(),
            origin=other_port,
        ).close()

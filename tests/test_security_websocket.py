"""WebSocket handshakes against a real daphne: cross-site WebSocket hijacking is refused.

A browser sends the page's Origin with every WebSocket handshake and attaches the site's
cookies whatever page opened the socket, so a foreign page could otherwise talk to TaskFlow
as the logged-in victim. Every socket must refuse a handshake whose Origin is not one of
ALLOWED_HOSTS (look-alike suffixes, `null` and a missing Origin included), while the same
handshake from the site's own origin, with the same session cookie, is accepted; the
accepted cases prove the refusals are about the Origin and not a broken set-up.

The helpers here (logging in over HTTP, opening sockets) are shared with
test_security_revocation.py and test_security_limits.py.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.factories import PASSWORD, BoardFactory, ChatRoomFactory, ColumnFactory, TaskFactory
from tests.live import DaphneServer

# --- helpers shared by the live security tests ------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class LiveSession:
    """One browser-like HTTP session against a live server: its own cookie jar, logged in
    through the real /accounts/login/ form (so the session is a real one in the store)."""

    def __init__(self, server: DaphneServer) -> None:
        self.server = server
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect
        )

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def request(
        self, path: str, data: dict[str, Any] | None = None, *, headers: dict | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """GET (data None) or a CSRF-carrying form POST; returns (status, headers, body)
        without following redirects."""
        body = None
        all_headers = dict(headers or {})
        if data is not None:
            body = urllib.parse.urlencode(data, doseq=True).encode()
            all_headers.setdefault("X-CSRFToken", self.cookie("csrftoken") or "")
        req = urllib.request.Request(self.server.url + path, data=body, headers=all_headers)
        try:
            with self.opener.open(req, timeout=15) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def log_in(self, username: str, password: str = PASSWORD) -> LiveSession:
        status, _, html = self.request("/accounts/login/")
        assert status == 200
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert token, "login form has no CSRF token"
        status, _, _ = self.request(
            "/accounts/login/",
            {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": token.group(1).decode(),
            },
        )
        assert status == 302, f"login as {username} failed ({status})"
        assert self.cookie("sessionid"), "no session cookie after login"
        return self

    def post(self, path: str, data: dict[str, Any] | None = None) -> int:
        return self.request(path, data or {})[0]

    def socket(self, path: str, *, origin: str | None = "same") -> ClientConnection:
        return open_socket(self.server, path, cookie=self.cookie_header(), origin=origin)


def open_socket(
    server: DaphneServer, path: str, *, cookie: str | None, origin: str | None = "same"
) -> ClientConnection:
    """A websockets client connection; origin "same" means the server's own origin, None
    means no Origin header at all. Raises InvalidStatus when the handshake is refused."""
    headers = {}
    if origin == "same":
        origin = server.url
    if origin is not None:
        headers["Origin"] = origin
    if cookie:
        headers["Cookie"] = cookie
    return connect(
        server.ws_url + path, additional_headers=headers, open_timeout=10, close_timeout=2
    )


def recv_json(ws: ClientConnection, *, timeout: float = 5.0, type_: str | None = None) -> dict:
    """The next frame (of `type_`, skipping others) as JSON."""
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if type_ is None or frame.get("type") == type_:
            return frame


def wait_closed(ws: ClientConnection, *, timeout: float = 5.0) -> tuple[float, int | None]:
    """Read until the server closes the socket; returns (seconds it took, close code).
    Raises TimeoutError if it stays open for `timeout` seconds."""
    started = time.monotonic()
    deadline = started + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"socket still open after {timeout}s")
            ws.recv(timeout=remaining)
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else None
        return time.monotonic() - started, code


def still_open(ws: ClientConnection, *, for_seconds: float = 1.0) -> bool:
    """Whether the socket stays open (frames may arrive) for `for_seconds`."""
    try:
        wait_closed(ws, timeout=for_seconds)
    except TimeoutError:
        return True
    return False


@dataclass
class Workspace:
    """A board with a column, a task and a room, all with `owner` (and `members`) in them."""

    board: Any
    column: Any
    task: Any
    room: Any

    @classmethod
    def create(cls, owner, members=()) -> Workspace:
        board = BoardFactory(created_by=owner, members=list(members))
        column = ColumnFactory(board=board)
        task = TaskFactory(column=column)
        room = ChatRoomFactory(board=board, members=list(members))
        return cls(board=board, column=column, task=task, room=room)

    def socket_paths(self) -> dict[str, str]:
        return {
            "chat-room": f"/ws/chat-room/{self.room.pk}/",
            "task-comments": f"/ws/task-comments/{self.task.pk}/",
            "notifications": "/ws/notifications/",
        }


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

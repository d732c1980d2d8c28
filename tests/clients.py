"""Clients for a live daphne (tests.live.DaphneServer): a browser-like HTTP session that logs in
through the real form, WebSocket connections carrying its cookie, frame readers, and a
`Workspace` (a board, column, task and room) to point them at. Shared by the live security,
scale-out and operations tests."""

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

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.factories import PASSWORD, BoardFactory, ChatRoomFactory, ColumnFactory, TaskFactory
from tests.live import DaphneServer


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

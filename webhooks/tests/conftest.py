"""Fixtures for the webhook tests: alice's board (bob and carol are members), a room with
alice and bob, dave who belongs to nothing, and a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.factories import BoardFactory, ChatRoomFactory, ColumnFactory, UserFactory


@pytest.fixture
def dave(db):
    return UserFactory(username="dave", display_name="Dave D.")


@pytest.fixture
def board(alice, bob, carol):
    return BoardFactory(name="Launch", created_by=alice, members=[bob, carol])


@pytest.fixture
def room(board, alice, bob):
    return ChatRoomFactory(board=board, name="general", created_by=alice, members=[bob])


@pytest.fixture
def column(board):
    return ColumnFactory(board=board, name="To Do")


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, settings):
    """Browser tests keep the real hashers: the daphne child checks the passwords."""
    if request.node.get_closest_marker("browser"):
        return
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_retry_timers_outlive_the_test():
    """A retry timer left from one test must not fire into a later test's database."""
    from webhooks.tasks import cancel_retry_timers

    yield
    cancel_retry_timers()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real HTTP server in a thread. It answers each POST with the next status of
    `statuses` (the last one repeats) and keeps what it received."""

    statuses: list[int] = field(default_factory=lambda: [200])
    received: list[Received] = field(default_factory=list)
    url: str = ""
    condition: threading.Condition = field(default_factory=threading.Condition)

    def answer(self) -> int:
        with self.condition:
            index = min(len(self.received), len(self.statuses) - 1)
            return self.statuses[index]

    def record(self, item: Received) -> None:
        with self.condition:
            self.received.append(item)
            self.condition.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.condition:
            self.condition.wait_for(lambda: len(self.received) >= count, timeout=timeout)
            return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status = state.answer()
            state.record(Received(self.path, {k: v for k, v in self.headers.items()}, body))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook?src=taskflow"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def allow_private(settings):
    """The receiver lives on 127.0.0.1: let webhooks call it (the SSRF guard's setting)."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    return settings

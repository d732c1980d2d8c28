"""Oversize uploads against a live daphne (issue 12): refused while the body streams, not after
the server buffered it whole. Daphne (Twisted) receives a request's entire body into a
temporary file before the ASGI application sees the request, so these go through a real
daphne process and a raw socket that sends only part of the body before reading the answer."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from django.db import connection

from tests.live import DaphneServer, database_url_for

LIMIT = 1024 * 1024  # ATTACHMENT_MAX_BYTES of the daphne below: 1 MB
UPLOAD = b"/messaging/attachments/"


@pytest.fixture(scope="module")
def small_limit_daphne(django_db_setup, django_db_blocker) -> Iterator[DaphneServer]:
    with django_db_blocker.unblock():
        url = database_url_for(connection.settings_dict)
    server = DaphneServer(database_url=url, extra_env={"ATTACHMENT_MAX_BYTES": str(LIMIT)})
    yield server.start()
    server.stop()


def _headers(length: int | None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        b"POST " + UPLOAD + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\n" + framing.encode() + b"\r\n\r\n"
    )


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP response: status, headers (lower-case names), body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines)
    }
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split(" ", 2)[1]), headers, body[:length]


def _connect(server: DaphneServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def test_declared_oversize_body_gets_413_before_it_is_sent(small_limit_daphne):
    """Content-Length says 100 MB; 64 KB of it is sent and the 413 comes back at once."""
    with _connect(small_limit_daphne) as sock:
        sock.sendall(_headers(100_000_000) + b"x" * 65536)
        status, headers, body = _answer(sock)
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": "Files are limited to 1 MB."}


def test_chunked_body_is_cut_off_as_it_passes_the_limit(small_limit_daphne):
    """No length: the server counts the chunks and answers 413 once they pass the limit
    (plus the multipart envelope); the client has sent 1.25 MB and stops there."""
    piece = b"x" * 16384
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    with _connect(small_limit_daphne) as sock:
        sock.sendall(_headers(None))
        for _ in range(80):  # 1.25 MB: past 1 MB + 64 KB of envelope
            sock.sendall(chunk)
        status, headers, body = _answer(sock)
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": "Files are limited to 1 MB."}


def test_a_body_within_the_limit_reaches_django(small_limit_daphne):
    """The guard lets a request of an allowed size through to Django (here: signed out, so
    the login redirect)."""
    body = b'--b\r\nContent-Disposition: form-data; name="room"\r\n\r\n1\r\n--b--\r\n'
    with _connect(small_limit_daphne) as sock:
        sock.sendall(_headers(len(body)) + body)
        status, headers, _ = _answer(sock)
    assert status == 302
    assert headers["location"].startswith("/accounts/login/")

"""The WebSocket Origin must name the scheme, host and port the browser connected to."""

import pytest
from channels.testing import WebsocketCommunicator

from kanban_board.origin import SameOriginValidator, origin_matches_host


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "http"),
        ("http://localhost:8000", "LOCALHOST:8000", "http"),
        ("https://taskflow.example.com", "taskflow.example.com", "https"),
        ("https://taskflow.example.com:443", "taskflow.example.com", "https"),
        ("https://taskflow.example.com", "taskflow.example.com:443", "https"),
        ("http://taskflow.example.com", "taskflow.example.com", "http"),
        ("http://taskflow.example.com", "taskflow.example.com:80", "http"),
        ("http://[::1]:8000", "[::1]:8000", "http"),
    ],
)
def test_same_site_is_accepted(origin, host, scheme):
    assert origin_matches_host(origin, host, scheme=scheme)


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://127.0.0.1:9999", "127.0.0.1:8000", "http"),  # another app on the same machine
        ("http://taskflow.example.com", "taskflow.example.com:443", "https"),  # http page
        ("http://taskflow.example.com", "taskflow.example.com:443", "http"),
        ("https://taskflow.example.com:8443", "taskflow.example.com", "https"),
        # A Host without a port: the scheme still has to match the connection's.
        ("http://taskflow.example.com", "taskflow.example.com", "https"),
        ("https://taskflow.example.com", "taskflow.example.com", "http"),
        ("https://127.0.0.1:8000", "127.0.0.1:8000", "http"),
        ("http://evil.example:8000", "127.0.0.1:8000", "http"),
        ("http://127.0.0.1.evil.example:8000", "127.0.0.1:8000", "http"),
        ("null", "127.0.0.1:8000", "http"),
        ("", "127.0.0.1:8000", "http"),
        ("http://127.0.0.1:8000", "", "http"),
        ("file://127.0.0.1:8000", "127.0.0.1:8000", "http"),
        ("http://127.0.0.1:notaport", "127.0.0.1:8000", "http"),
    ],
)
def test_other_origins_are_refused(origin, host, scheme):
    assert not origin_matches_host(origin, host, scheme=scheme)


def test_trusted_origins_pass_when_a_proxy_rewrites_host(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com"]

    assert origin_matches_host("https://chat.example.com", "internal-web:8000", scheme="http")


def test_plain_http_origin_is_refused_when_https_is_enforced(settings):
    settings.SECURE_SSL_REDIRECT = True

    assert not origin_matches_host(
        "http://taskflow.example.com", "taskflow.example.com", scheme="http"
    )
    assert origin_matches_host(
        "https://taskflow.example.com", "taskflow.example.com", scheme="https"
    )


# --- the middleware: the scheme comes from the handshake ---------------------------------


async def _accepted_app(scope, receive, send):
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})


async def handshake(origin: str, *, scheme: str | None, extra: list | None = None) -> bool:
    communicator = WebsocketCommunicator(
        SameOriginValidator(_accepted_app),
        "/ws/notifications/",
        headers=[(b"host", b"taskflow.example.com"), (b"origin", origin.encode()), *(extra or [])],
    )
    if scheme is not None:
        communicator.scope["scheme"] = scheme
    connected, _ = await communicator.connect(timeout=3)
    if connected:
        await communicator.disconnect()
    return connected


@pytest.mark.parametrize(
    ("socket_scheme", "origin", "accepted"),
    [
        ("ws", "http://taskflow.example.com", True),
        ("ws", "https://taskflow.example.com", False),
        ("wss", "https://taskflow.example.com", True),
        ("wss", "http://taskflow.example.com", False),
        (None, "http://taskflow.example.com", True),  # no scheme in the scope: ws
        (None, "https://taskflow.example.com", False),
    ],
)
@pytest.mark.asyncio
async def test_portless_host_compares_the_handshake_scheme(socket_scheme, origin, accepted):
    assert await handshake(origin, scheme=socket_scheme) is accepted


@pytest.mark.asyncio
async def test_trusted_tls_proxy_header_decides_the_scheme(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    https = [(b"x-forwarded-proto", b"https")]

    assert await handshake("https://taskflow.example.com", scheme="ws", extra=https)
    assert not await handshake("http://taskflow.example.com", scheme="ws", extra=https)


@pytest.mark.asyncio
async def test_proxy_header_is_ignored_unless_trusted(settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    https = [(b"x-forwarded-proto", b"https")]

    assert not await handshake("https://taskflow.example.com", scheme="ws", extra=https)

"""The WebSocket Origin must name the scheme, host and port the browser connected to."""

import pytest

from kanban_board.origin import origin_matches_host


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://localhost:8000", "LOCALHOST:8000"),
        ("https://taskflow.example.com", "taskflow.example.com"),
        ("https://taskflow.example.com:443", "taskflow.example.com"),
        ("http://taskflow.example.com", "taskflow.example.com:80"),
        ("http://[::1]:8000", "[::1]:8000"),
    ],
)
def test_same_site_is_accepted(origin, host):
    assert origin_matches_host(origin, host)


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://127.0.0.1:9999", "127.0.0.1:8000"),  # another app on the same machine
        ("http://taskflow.example.com", "taskflow.example.com:443"),  # http page, https site
        ("https://taskflow.example.com:8443", "taskflow.example.com"),
        ("http://evil.example:8000", "127.0.0.1:8000"),
        ("http://127.0.0.1.evil.example:8000", "127.0.0.1:8000"),
        ("null", "127.0.0.1:8000"),
        ("", "127.0.0.1:8000"),
        ("http://127.0.0.1:8000", ""),
        ("file://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://127.0.0.1:notaport", "127.0.0.1:8000"),
    ],
)
def test_other_origins_are_refused(origin, host):
    assert not origin_matches_host(origin, host)


def test_trusted_origins_pass_when_a_proxy_rewrites_host(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com"]

    assert origin_matches_host("https://chat.example.com", "internal-web:8000")


def test_plain_http_origin_is_refused_when_https_is_enforced(settings):
    settings.SECURE_SSL_REDIRECT = True

    assert not origin_matches_host("http://taskflow.example.com", "taskflow.example.com")
    assert origin_matches_host("https://taskflow.example.com", "taskflow.example.com")

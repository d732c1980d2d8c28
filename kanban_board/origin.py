"""WebSocket Origin check: the handshake must come from a page of this very site.

Channels' AllowedHostsOriginValidator compares host names only, so a page served from another
port or scheme of an allowed host (another app on the same machine, plain http next to https)
could open sockets with the user's cookies. This check runs inside it and also requires the
Origin's scheme-and-port to match the Host the browser connected to (or the origin to be listed
in CSRF_TRUSTED_ORIGINS, for proxies that rewrite Host).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_matches_host(origin: str, host: str) -> bool:
    """Whether a browser Origin header names the site reached through `host` (the Host header).

    A Host without a port means the default port of the scheme the browser used, which for a
    same-origin page is the Origin's scheme: so only an Origin on its default port matches.
    """
    origin = origin.strip().lower()
    if origin in {o.strip().lower().rstrip("/") for o in settings.CSRF_TRUSTED_ORIGINS}:
        return True
    try:
        parsed_origin = urlsplit(origin)
        parsed_host = urlsplit(f"//{host.strip().lower()}")
        origin_port = parsed_origin.port
        host_port = parsed_host.port
    except ValueError:  # malformed port
        return False
    scheme = parsed_origin.scheme
    if scheme not in DEFAULT_PORTS or not parsed_origin.hostname or not parsed_host.hostname:
        return False
    if settings.SECURE_SSL_REDIRECT and scheme != "https":
        return False
    if parsed_origin.hostname != parsed_host.hostname:
        return False
    return (origin_port or DEFAULT_PORTS[scheme]) == (host_port or DEFAULT_PORTS[scheme])


class SameOriginValidator:
    """ASGI middleware: refuse (HTTP 403 at the handshake) a WebSocket whose Origin does not
    match the Host it was sent to."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            headers = dict(scope.get("headers") or [])
            origin = headers.get(b"origin", b"").decode("latin-1")
            host = headers.get(b"host", b"").decode("latin-1")
            if not origin_matches_host(origin, host):
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)

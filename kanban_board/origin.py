"""WebSocket Origin check: the handshake must come from a page of this very site.

Channels' AllowedHostsOriginValidator compares host names only, so a page served from another
port or scheme of an allowed host (another app on the same machine, plain http next to https)
could open sockets with the user's cookies. This check runs inside it and also requires the
Origin's scheme and port to match the connection the browser made: the scheme of the handshake
(`ws` pairs with an `http` page, `wss` with `https`; behind a TLS proxy, X-Forwarded-Proto when
DJANGO_BEHIND_TLS_PROXY trusts it, as Django's CSRF check does) and the Host's port, a missing
port meaning that scheme's default (80/443). An origin listed in CSRF_TRUSTED_ORIGINS also
passes, for proxies that rewrite Host.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings

DEFAULT_PORTS = {"http": 80, "https": 443}
# The WebSocket scheme of the handshake -> the scheme of the page that may open it.
PAGE_SCHEMES = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def origin_matches_host(origin: str, host: str, *, scheme: str) -> bool:
    """Whether a browser Origin header names the site reached through `host` (the Host
    header) over `scheme` ("http" or "https": the page scheme of the connection).

    The Origin's scheme must be `scheme`, its host name the Host's, and its port the Host's,
    with the scheme's default port standing in for a missing one on either side.
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
    if scheme not in DEFAULT_PORTS or parsed_origin.scheme != scheme:
        return False
    if not parsed_origin.hostname or not parsed_host.hostname:
        return False
    if settings.SECURE_SSL_REDIRECT and scheme != "https":
        return False
    if parsed_origin.hostname != parsed_host.hostname:
        return False
    default = DEFAULT_PORTS[scheme]
    return (origin_port or default) == (host_port or default)


def page_scheme(scope: dict, headers: dict[bytes, bytes]) -> str:
    """ "https" when the browser reached us over TLS, else "http" (from the ASGI scope's
    ws/wss, or the trusted proxy header named by SECURE_PROXY_SSL_HEADER)."""
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    if proxy_header:
        name, secure_value = proxy_header
        header = name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1")
        value = headers.get(header, b"").decode("latin-1").split(",")[0].strip().lower()
        if value:
            return "https" if value == secure_value.lower() else "http"
    return PAGE_SCHEMES.get(str(scope.get("scheme") or "ws").lower(), "http")


class SameOriginValidator:
    """ASGI middleware: refuse (HTTP 403 at the handshake) a WebSocket whose Origin does not
    match the scheme and Host it was sent to."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            headers = dict(scope.get("headers") or [])
            origin = headers.get(b"origin", b"").decode("latin-1")
            host = headers.get(b"host", b"").decode("latin-1")
            if not origin_matches_host(origin, host, scheme=page_scheme(scope, headers)):
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)

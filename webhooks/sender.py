"""One HTTP POST to a checked address (`ssrf.Target`), with a timeout and no redirects."""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass

from .ssrf import Target

USER_AGENT = "TaskFlow-Webhooks/1"


@dataclass(frozen=True)
class Response:
    status_code: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to `address` whatever the host name resolves to now."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to `address`, verifying the certificate for the URL's host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(target: Target, *, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    """POST `body`; any 2xx is a success. Redirects are not followed (a 3xx is a failure)."""
    cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    conn = cls(target, timeout)
    try:
        conn.request(
            "POST",
            target.path,
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                **headers,
            },
        )
        response = conn.getresponse()
        response.read(64 * 1024)  # the receiver's answer is not kept
        return Response(status_code=response.status)
    except (OSError, http.client.HTTPException) as exc:
        return Response(status_code=None, error=f"{type(exc).__name__}: {exc}"[:300])
    finally:
        conn.close()

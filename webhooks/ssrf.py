"""Where an outgoing webhook may connect (server-side request forgery guard).

Only http and https URLs, and only hosts whose every address is public: loopback, private,
link-local, multicast, reserved, unspecified and other non-global addresses (IPv4, IPv6,
IPv4-mapped IPv6) are refused unless settings.WEBHOOKS_ALLOW_PRIVATE_URLS. The check runs at
subscription and again at each delivery, which then connects to the address it checked (a
DNS answer that changes in between, "rebinding", cannot send it elsewhere).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeURL(ValueError):
    """A URL a webhook must not call; the message says why, for the user."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as in the URL (Host header, TLS server name)
    port: int
    path: str  # path and query
    address: str  # the IP address to connect to


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def parse(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"Not a valid URL ({exc}).") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host.")
    if parts.username or parts.password:
        raise UnsafeURL("Put no user name or password in the URL; verify the signature instead.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def resolve(url: str) -> Target:
    """The address to connect to for `url`, or UnsafeURL."""
    scheme, host, port, path = parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"The host {host} cannot be resolved.") from exc
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise UnsafeURL(f"The host {host} cannot be resolved.")
    if not settings.WEBHOOKS_ALLOW_PRIVATE_URLS:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise UnsafeURL(
                f"{host} resolves to a loopback, private or otherwise internal address "
                f"({refused[0]}); webhooks only call public addresses."
            )
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0])

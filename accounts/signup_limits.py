"""Limits on open sign-up: an operator switch (SIGNUP_OPEN) and a rate per IP address.

The rate counts sign-ups that passed validation (a typo in the password confirmation costs
nothing) in fixed windows of the SIGNUP_RATE_LIMIT period, in the Django cache: shared by
every process when the cache is Redis. If the cache is down, sign-up is not refused.
Invitations (`accounts.services.sign_up(..., invitation=...)`) sign people up whatever the
switch says; their view may still call `over_rate` / `count_signup` to share the limit.
"""

from __future__ import annotations

import logging
import time

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from messaging.ratelimit import Rate

logger = logging.getLogger(__name__)

CLOSED_MESSAGE = (
    "Sign-up is closed on this TaskFlow. Ask an organization's owner or admin for an invitation."
)


def signup_open() -> bool:
    return settings.SIGNUP_OPEN


def rate_message() -> str:
    rate = Rate.parse(settings.SIGNUP_RATE_LIMIT)
    return (
        "Too many new accounts from your network "
        f"(limit {rate.count} per {_period(rate.seconds)}). Try again later."
    )


def _period(seconds: float) -> str:
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "hour" if hours == 1 else f"{hours} hours"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)} minutes"
    return f"{seconds:g} seconds"


def _key(request: HttpRequest) -> tuple[str, int]:
    rate = Rate.parse(settings.SIGNUP_RATE_LIMIT)
    window = int(time.time() // rate.seconds)
    address = get_client_ip_address(request) or "unknown"
    return f"signup:{address}:{window}", int(rate.seconds) + 1


def over_rate(request: HttpRequest) -> bool:
    """Whether this address has used up its sign-ups for the current window."""
    key, _ = _key(request)
    try:
        used = cache.get(key) or 0
    except Exception as exc:
        logger.warning("sign-up limit: cache unavailable (%r); not limiting", exc)
        return False
    return used >= Rate.parse(settings.SIGNUP_RATE_LIMIT).count


def count_signup(request: HttpRequest) -> bool:
    """Count one sign-up from this address; False when it is over the limit (then refuse)."""
    key, ttl = _key(request)
    try:
        used = 1 if cache.add(key, 1, timeout=ttl) else cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=ttl)
        used = 1
    except Exception as exc:
        logger.warning("sign-up limit: cache unavailable (%r); not limiting", exc)
        return True
    return used <= Rate.parse(settings.SIGNUP_RATE_LIMIT).count

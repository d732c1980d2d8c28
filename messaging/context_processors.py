"""Template context shared by every page."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from messaging.selectors.notifications import unread_count


def notifications(request: HttpRequest) -> dict[str, object]:
    """`unread_notification_count` for the nav badge: one COUNT query, run only if a template
    actually renders it (JSON views and partials pay nothing)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notification_count": SimpleLazyObject(lambda: unread_count(user.pk))}

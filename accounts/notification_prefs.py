"""E-mail notification preferences and the one-click unsubscribe (issue 11).

Every notification e-mail carries a link with a signed token naming the person and the kinds
of notification in that e-mail. Following it (GET) shows a confirmation page; a POST to the
same URL, with no log-in (RFC 8058's `List-Unsubscribe=One-Click` from a mail client, or the
page's button), turns e-mail off for those kinds. The token is signed with SECRET_KEY and
salted for this purpose only; it does not expire (an old e-mail's link must keep working)
and can do nothing but set preferences to "never".
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core import signing
from django.db import transaction
from django.urls import reverse

from .models import NotificationPreferences, User

UNSUBSCRIBE_SALT = "taskflow.notifications.unsubscribe"


def preferences_for(user: User) -> NotificationPreferences:
    """The user's preferences (an unsaved row with the defaults if they never chose)."""
    prefs = NotificationPreferences.objects.filter(user=user).first()
    return prefs or NotificationPreferences(user=user)


@transaction.atomic
def update_notification_preferences(
    *, user: User, choices: dict[str, str]
) -> NotificationPreferences:
    """Save the e-mail mode of each kind in `choices` (kind -> immediate/hourly/never)."""
    prefs, _ = NotificationPreferences.objects.select_for_update().get_or_create(user=user)
    fields = []
    for kind, mode in choices.items():
        if kind not in NotificationPreferences.KINDS:
            raise ValueError(f"unknown notification kind {kind!r}")
        if mode not in NotificationPreferences.Email.values:
            raise ValueError(f"unknown e-mail mode {mode!r}")
        setattr(prefs, kind, mode)
        fields.append(kind)
    if fields:
        prefs.save(update_fields=fields)
    return prefs


def unsubscribe_token(*, user_id: int, kinds: Iterable[str]) -> str:
    kinds = sorted(set(kinds) & set(NotificationPreferences.KINDS))
    return signing.dumps({"u": user_id, "k": kinds}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_url(*, user_id: int, kinds: Iterable[str], site_url: str) -> str:
    token = unsubscribe_token(user_id=user_id, kinds=kinds)
    return site_url + reverse("accounts:unsubscribe", args=[token])


def read_unsubscribe_token(token: str) -> tuple[User, list[str]] | None:
    """The person and kinds a token names; None for a forged or mangled token or a user
    who is gone."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        user_id = int(data["u"])
        kinds = [kind for kind in data["k"] if kind in NotificationPreferences.KINDS]
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    user = User.objects.filter(pk=user_id).first()
    if user is None or not kinds:
        return None
    return user, kinds


def unsubscribe(*, user: User, kinds: Iterable[str]) -> NotificationPreferences:
    """Turn e-mail off for these kinds (idempotent)."""
    return update_notification_preferences(
        user=user, choices=dict.fromkeys(kinds, NotificationPreferences.Email.NEVER)
    )

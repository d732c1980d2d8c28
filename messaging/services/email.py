"""E-mail to people who are away (issue 11, seed 003 §3.8).

A direct message, mention, reply, task assignment or due-date reminder (issue 13) still
unread (and not dismissed, and whose message or comment still exists and is still readable by
the person) after NOTIFICATION_EMAIL_DELAY_MINUTES is e-mailed. The beat task runs
`send_notification_emails` every minute; each run sends at most one e-mail per person, listing
all of their due notifications. A kind set to "hourly" waits for the person's next digest (an
hour after the last); "never", or a notification in a room they muted, is settled without an
e-mail.

At most once: a run first *claims* the rows it will send (one UPDATE that sets
`email_claimed_at` and a token unique to the run, only where `email_claimed_at` is still
NULL; on PostgreSQL the candidate rows are first locked with SKIP LOCKED, so two workers
split the work instead of queueing on it). It commits, then sends what carries its token. Two
workers, a redelivered task or a re-run can therefore never claim the same row twice. The
price: a run that crashes between the claim and the send (or whose mail server refuses the
message) loses those e-mails rather than risking a duplicate; the notification itself stays
in the app. `emailed_at` records the ones the mail server accepted.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import NotificationPreferences, User
from accounts.notification_prefs import unsubscribe_url
from messaging import access
from messaging.models import Notification

logger = logging.getLogger(__name__)

# Due-date reminders (kanban.reminders) are about tasks assigned to the person, so they follow
# the "Tasks assigned to you" choice (and its unsubscribe link) rather than a field of their own.
PREFERENCE_OF = {
    Notification.Type.DUE_SOON: "task_assigned",
    Notification.Type.OVERDUE: "task_assigned",
}
EMAILED_KINDS = (*NotificationPreferences.KINDS, *PREFERENCE_OF)
Mode = NotificationPreferences.Email
DIGEST_INTERVAL = timedelta(hours=1)
# Older notifications are never e-mailed (a worker that was down for days does not flood
# people with stale news when it comes back).
MAX_AGE = timedelta(days=2)
SKIPPED = "skipped"  # email_claim of rows settled without an e-mail (never, muted)


def _muted_rooms(user_ids: Iterable[int]) -> dict[int, set[int]]:
    """The rooms each user muted (RoomReadState.muted): never e-mailed."""
    from messaging.selectors.unread import muted_room_ids

    return muted_room_ids(user_ids)


def due_notifications(*, now=None):
    """Notifications owed an e-mail decision now: an e-mailed kind, unread, not dismissed,
    unclaimed, older than the delay (and younger than MAX_AGE), to an active person with an
    address, whose message or comment is not deleted and who can still read it."""
    now = now or timezone.now()
    delay = timedelta(minutes=settings.NOTIFICATION_EMAIL_DELAY_MINUTES)
    return Notification.objects.filter(
        access.notification_readable_q(),
        Q(chat_message__isnull=True) | Q(chat_message__is_deleted=False),
        Q(task_thread_comment__isnull=True) | Q(task_thread_comment__is_deleted=False),
        notification_type__in=EMAILED_KINDS,
        is_read=False,
        dismissed_at__isnull=True,
        email_claimed_at__isnull=True,
        created_at__lte=now - delay,
        created_at__gt=now - MAX_AGE,
        recipient__is_active=True,
    ).exclude(recipient__email="")


def _decide(rows, now) -> tuple[list[int], list[int], set[int]]:
    """Split candidate rows (pk, recipient, kind, room) into those to send now, those to
    settle without an e-mail, and the users whose hourly digest goes out in this run."""
    user_ids = {row[1] for row in rows}
    prefs = {p.user_id: p for p in NotificationPreferences.objects.filter(user_id__in=user_ids)}
    muted = _muted_rooms(user_ids)
    send, skip, digest_users = [], [], set()
    for pk, user_id, kind, room_id in rows:
        pref = prefs.get(user_id)
        mode = pref.mode(PREFERENCE_OF.get(kind, kind)) if pref else Mode.IMMEDIATE
        if mode == Mode.NEVER or (room_id is not None and room_id in muted.get(user_id, ())):
            skip.append(pk)
        elif mode == Mode.IMMEDIATE:
            send.append(pk)
        else:  # hourly: only when this person's digest is due
            last = pref.last_digest_at if pref else None
            if last is None or last <= now - DIGEST_INTERVAL:
                send.append(pk)
                digest_users.add(user_id)
    return send, skip, digest_users


@transaction.atomic
def claim_due_notifications(*, now=None, limit: int = 1000) -> str | None:
    """Claim this run's notifications; returns the claim token (None if nothing to send).
    Committed before anything is sent: see the module docstring."""
    now = now or timezone.now()
    if connection.vendor == "sqlite":
        # Take the write lock first (an UPDATE of nothing): a transaction that reads and then
        # writes fails at once with "database is locked" when another run holds the lock,
        # while one that starts by writing waits for it.
        Notification.objects.filter(pk=0).update(email_claim="")
    candidates = due_notifications(now=now).order_by("created_at", "pk")
    if connection.features.has_select_for_update_skip_locked:
        candidates = candidates.select_for_update(skip_locked=True, of=("self",))
    rows = list(
        candidates.values_list(
            "pk", "recipient_id", "notification_type", "chat_message__chat_room_id"
        )[:limit]
    )
    if not rows:
        return None
    send, skip, digest_users = _decide(rows, now)
    unclaimed = Notification.objects.filter(email_claimed_at__isnull=True)
    if skip:
        unclaimed.filter(pk__in=skip).update(email_claimed_at=now, email_claim=SKIPPED)
    if not send:
        return None
    token = uuid.uuid4().hex
    claimed = unclaimed.filter(pk__in=send, is_read=False, dismissed_at__isnull=True).update(
        email_claimed_at=now, email_claim=token
    )
    for user_id in digest_users:
        NotificationPreferences.objects.update_or_create(
            user_id=user_id, defaults={"last_digest_at": now}
        )
    return token if claimed else None


def _message_for(user: User, notifications: list[Notification]) -> EmailMultiAlternatives:
    site = settings.SITE_URL
    kinds = sorted(
        {PREFERENCE_OF.get(n.notification_type, n.notification_type) for n in notifications}
    )
    unsubscribe = unsubscribe_url(user_id=user.pk, kinds=kinds, site_url=site)
    items = [
        {
            "text": n.text,
            "url": site + n.get_absolute_url(),
            "kind": n.get_notification_type_display(),
        }
        for n in notifications
    ]
    context = {
        "user": user,
        "items": items,
        "unsubscribe_url": unsubscribe,
        "preferences_url": site + reverse("accounts:notification_preferences"),
        "site_url": site,
    }
    count = len(items)
    subject = (
        f"TaskFlow: {items[0]['text'][:70]}"
        if count == 1
        else f"TaskFlow: {count} things you have not read"
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("messaging/email/notifications.txt", context),
        to=[user.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(
        render_to_string("messaging/email/notifications.html", context), "text/html"
    )
    return message


def send_claimed(token: str) -> int:
    """Send one e-mail per person for the rows claimed with `token`; returns how many e-mails
    the mail server accepted. A failure for one person is logged and does not stop the
    others (their rows stay claimed: at most once)."""
    rows = (
        Notification.objects.filter(email_claim=token)
        .select_related(
            "recipient", "chat_message", "task_thread_comment", "task", "board", "chat_room"
        )
        .order_by("recipient_id", "created_at", "pk")
    )
    by_user: dict[int, list[Notification]] = defaultdict(list)
    for notification in rows:
        by_user[notification.recipient_id].append(notification)
    sent = 0
    with get_connection() as mail:
        for notifications in by_user.values():
            user = notifications[0].recipient
            try:
                mail.send_messages([_message_for(user, notifications)])
            except Exception:
                logger.exception(
                    "could not e-mail %d notification(s) to user %s", len(notifications), user.pk
                )
                continue
            Notification.objects.filter(pk__in=[n.pk for n in notifications]).update(
                emailed_at=timezone.now()
            )
            sent += 1
    return sent


def send_notification_emails(*, now=None, limit: int = 1000) -> int:
    """One run of the beat task: claim, then send. Returns how many e-mails were sent."""
    token = claim_due_notifications(now=now, limit=limit)
    if token is None:
        return 0
    sent = send_claimed(token)
    if sent:
        logger.info("e-mailed %d person(s) about unread notifications", sent)
    return sent

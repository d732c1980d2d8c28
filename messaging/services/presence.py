"""Presence (issue 11): record what pages report, decide when a user's status is announced.

Sync functions over `messaging.presence_store` (the record) and the access modules (whom a
change reaches); the consumers call them through `messaging.presence_live`, which sends the
frames. The rule for a status is `presence_store.user_status`.

Announcing: whenever a user's connections change (a heartbeat that changes the page state, a
socket closing, a connection found expired by the sweep) the status is computed again and,
if it differs from the one last announced, a `presence` frame goes to every room and board
the user can read, at most once per PRESENCE_FRAME_INTERVAL_SECONDS per user. A change inside
that interval is left for a trailing check at its end (`Announcement.retry_at`), which sends
the latest state if it still differs. The interval is a key in the store (Redis SET NX PX,
shared by the processes); if the process holding a trailing check dies, the sweep catches up.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet

from accounts.models import User
from kanban import access as board_access
from messaging import access, presence_store, realtime
from messaging.presence_store import OFFLINE, Entry


def _retry_key(user_id: int) -> str:
    return f"presence:retry:{user_id}"


@dataclass
class Announcement:
    """What to send after a change: a frame for these groups, and/or a time (epoch seconds)
    at which to check again because the interval was still running."""

    payload: dict[str, Any] | None = None
    groups: list[str] = field(default_factory=list)
    retry_at: float | None = None


# --- what the pages report ----------------------------------------------------------------


def record_heartbeat(
    *, user: User, connection_id: str, visible: bool, idle: bool, now: float | None = None
) -> Announcement:
    """A page reported its state over one of its sockets (also the socket's first report,
    which makes it a presence connection)."""
    now = time.time() if now is None else now
    fields = {
        presence_store.connection_field(connection_id): presence_store.encode_connection(
            visible=visible, idle=idle, at=now, expires=now + _ttl()
        )
    }
    if visible and not idle:
        fields["last"] = f"{now:.3f}"
    presence_store.store().write(user.pk, fields, track=True)
    return announce_if_changed(user.pk, now=now)


def keep_connection(
    *, user_id: int, connection_id: str, visible: bool, idle: bool, at: float
) -> None:
    """The socket is still open: push its connection's expiry forward (its state and the time
    of its last report stay as they were)."""
    value = presence_store.encode_connection(
        visible=visible, idle=idle, at=at, expires=time.time() + _ttl()
    )
    presence_store.store().write(
        user_id, {presence_store.connection_field(connection_id): value}, track=True
    )


def drop_connection(*, user_id: int, connection_id: str) -> Announcement:
    """The socket closed."""
    presence_store.store().write(
        user_id, {}, drop=[presence_store.connection_field(connection_id)], track=False
    )
    return announce_if_changed(user_id)


# --- announcing ---------------------------------------------------------------------------


def announce_if_changed(user_id: int, *, now: float | None = None) -> Announcement:
    """Compare the user's status with the one last announced; announce it now if the
    interval allows, else say when to look again."""
    now = time.time() if now is None else now
    store = presence_store.store()
    entry = Entry.parse(store.read_many([user_id])[user_id])
    status = presence_store.user_status(entry, now=now, online_seconds=_online_seconds())
    expired = entry.expired(now)
    if expired:  # a killed process's connections, or a socket whose close was lost
        store.write(user_id, {}, drop=[presence_store.connection_field(c) for c in expired],
                    track=False)  # fmt: skip
    if status == (entry.published or OFFLINE):
        if status == OFFLINE:
            store.untrack(user_id)
        return Announcement()
    free_at = _claim_interval(user_id, now)
    if free_at is not None:
        wait = math.ceil(free_at - now) + 1
        if cache.add(_retry_key(user_id), 1, timeout=wait):  # one trailing check per interval
            return Announcement(retry_at=free_at)
        return Announcement()
    user = User.objects.filter(pk=user_id).only("pk", "username").first()
    store.write(user_id, {"pub": status}, track=status != OFFLINE)
    if status == OFFLINE:
        store.untrack(user_id)
    if user is None:
        return Announcement()
    payload = realtime.presence_status_payload(
        user_id=user.pk, username=user.username, status=status
    )
    return Announcement(payload=payload, groups=_groups_of(user))


def trailing_check(user_id: int) -> Announcement:
    """The interval that held a change back is over: announce the latest state."""
    cache.delete(_retry_key(user_id))
    return announce_if_changed(user_id)


def sweep() -> list[tuple[int, Announcement]]:
    """Users whose status may have changed with nobody's socket telling (connections that
    expired with their process, reports grown stale): announce what changed."""
    store, now = presence_store.store(), time.time()
    tracked = store.tracked()
    rows = store.read_many(tracked)  # one round trip for everyone
    due = []
    for user_id in tracked:
        entry = Entry.parse(rows.get(user_id))
        status = presence_store.user_status(entry, now=now, online_seconds=_online_seconds())
        if status != (entry.published or OFFLINE) or status == OFFLINE or entry.expired(now):
            due.append(user_id)
    return [(user_id, announce_if_changed(user_id)) for user_id in due]


def claim_sweep() -> bool:
    """Whether this process runs this round of the sweep (one process per round)."""
    seconds = max(1, int(settings.PRESENCE_SWEEP_SECONDS * 0.9))
    return cache.add("presence:sweep", 1, timeout=seconds)


def _claim_interval(user_id: int, now: float) -> float | None:
    """Take the user's frame interval (None) or say when the running one ends."""
    return presence_store.store().claim_interval(
        user_id, now, settings.PRESENCE_FRAME_INTERVAL_SECONDS
    )


def _groups_of(user: User) -> list[str]:
    rooms = access.readable_rooms(user).values_list("pk", flat=True)
    boards = board_access.readable_boards(user).values_list("pk", flat=True)
    return realtime.presence_groups(room_ids=list(rooms), board_ids=list(boards))


def _ttl() -> float:
    return settings.PRESENCE_CONNECTION_TTL_SECONDS


def _online_seconds() -> float:
    return settings.PRESENCE_ONLINE_SECONDS


# --- reading (the endpoint, a socket's first heartbeat) -----------------------------------


def announced_frames(people: QuerySet[User], *, exclude_user_id: int) -> list[dict[str, Any]]:
    """`presence` frame payloads, by username, for those of `people` (but the socket's own
    user) whose last announced status is online or away (one query, one read of the store):
    what a socket that starts hearing presence frames would have heard so far. Offline is
    what a page shows until told otherwise."""
    users = list(people.exclude(pk=exclude_user_id).only("pk", "username").order_by("username"))
    rows = presence_store.store().read_many([u.pk for u in users])
    frames = []
    for user in users:
        status = Entry.parse(rows.get(user.pk)).published or OFFLINE
        if status != OFFLINE:
            frames.append(
                realtime.presence_status_payload(
                    user_id=user.pk, username=user.username, status=status
                )
            )
    return frames


def presence_of(
    users: list[User], *, now: float | None = None, announced: bool = False
) -> list[dict[str, Any]]:
    """`{"username", "status", "last_active"}` for each user, in the given order: one read
    of the store for all of them.

    `announced`: the status as last announced in `presence` frames, for pages that also hear
    them. A change inside a frame interval is announced by the trailing frame, and only if it
    still holds then; a page told the passing state by its refresh would keep it, as no frame
    ever corrects it (bob's login page closing its socket 0.5 s before his room tab opened
    one: alice's room page showed him offline until its next poll)."""
    now = time.time() if now is None else now
    rows = presence_store.store().read_many([u.pk for u in users])
    result = []
    for user in users:
        entry = Entry.parse(rows.get(user.pk))
        last = entry.last_active
        if announced:
            status = entry.published or OFFLINE
        else:
            status = presence_store.user_status(entry, now=now, online_seconds=_online_seconds())
        result.append(
            {
                "username": user.username,
                "status": status,
                "last_active": realtime.iso(datetime.fromtimestamp(last, UTC)) if last else None,
            }
        )
    return result

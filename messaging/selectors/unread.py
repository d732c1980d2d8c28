"""Unread counts per room (issue 11): what a user has not read yet, scoped by `access`.

A message is unread for a user when it is in a room they can read, newer than their read
pointer (`RoomReadState.last_read_message_id`, 0 without a row), not deleted, and not their
own. `mentions` counts the unread ones that mention them. The nav total leaves out muted rooms,
except their mentions (a muted room still tells you when someone needs you).

Every function here is a constant number of queries, however many rooms: counts are
correlated subqueries annotated on the room queryset, so a page that lists rooms gets them in
the same query as the rooms themselves (`with_unread`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Count,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from messaging import access
from messaging.models import ChatMessage, ChatRoom, RoomReadState

if TYPE_CHECKING:
    from accounts.models import User


def _count(queryset: QuerySet) -> Coalesce:
    """COUNT(*) of a correlated queryset as an integer subquery (0 when it is empty)."""
    counted = queryset.order_by().values("chat_room_id").annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def with_unread(rooms: QuerySet[ChatRoom], user: User) -> QuerySet[ChatRoom]:
    """`rooms` annotated with `read_upto`, `muted`, `unread`, `mentions` and
    `last_message_id` for `user`. The caller scopes `rooms` to what the user can read."""
    state = RoomReadState.objects.filter(room=OuterRef("pk"), user_id=user.pk)
    unread = ChatMessage.objects.filter(
        chat_room=OuterRef("pk"), pk__gt=OuterRef("read_upto"), is_deleted=False
    ).exclude(author_id=user.pk)
    newest = ChatMessage.objects.filter(chat_room=OuterRef("pk")).order_by("-pk").values("pk")
    return rooms.annotate(
        read_upto=Coalesce(
            Subquery(state.values("last_read_message_id")[:1]),
            Value(0),
            output_field=BigIntegerField(),
        ),
        muted=Coalesce(
            Subquery(state.values("muted")[:1]), Value(False), output_field=BooleanField()
        ),
    ).annotate(
        unread=_count(unread),
        mentions=_count(unread.filter(mentioned_users=user.pk)),
        last_message_id=Subquery(newest[:1], output_field=BigIntegerField()),
    )


def room_unread_item(room: ChatRoom) -> dict[str, Any]:
    """One room of `GET /messaging/unread/` from a `with_unread` row."""
    return {
        "room_id": room.pk,
        "unread": room.unread,
        "mentions": room.mentions,
        "last_message_id": room.last_message_id,
        "last_read_message_id": room.read_upto,
        "muted": room.muted,
    }


def total_unread(items: Iterable[dict[str, Any]]) -> int:
    """The nav total: unread messages in rooms not muted, plus mentions in muted ones."""
    return sum(item["mentions"] if item["muted"] else item["unread"] for item in items)


def unread_counts(user: User, *, room_ids: Iterable[int] | None = None) -> dict[str, Any]:
    """`{"rooms": [{"room_id", "unread", "mentions", "last_message_id", "muted"}], "total"}`
    for every room the user can read (or those of `room_ids` among them). One query."""
    rooms = access.readable_rooms(user)
    if room_ids is not None:
        rooms = rooms.filter(pk__in=list(room_ids))
    items = [room_unread_item(room) for room in with_unread(rooms, user).order_by("pk")]
    return {"rooms": items, "total": total_unread(items)}


def room_unread(user: User, room_id: int) -> dict[str, Any] | None:
    """One room's counts for a user who can read it (None otherwise). One query."""
    rooms = unread_counts(user, room_ids=[room_id])["rooms"]
    return rooms[0] if rooms else None


def read_pointers(room_id: int, user_ids: Iterable[int]) -> dict[int, int]:
    """{user id: last read message id} of some people in one room (absent: nothing read)."""
    return dict(
        RoomReadState.objects.filter(room_id=room_id, user_id__in=list(user_ids)).values_list(
            "user_id", "last_read_message_id"
        )
    )


def muted_room_ids(user_ids: Iterable[int]) -> dict[int, set[int]]:
    """{user id: ids of the rooms that user muted} for several users in one query; every
    asked user is a key (an empty set when they muted nothing). For senders of e-mail and
    other notices that must stay quiet about muted rooms."""
    ids = list(user_ids)
    muted: dict[int, set[int]] = {user_id: set() for user_id in ids}
    rows = RoomReadState.objects.filter(user_id__in=ids, muted=True).values_list(
        "user_id", "room_id"
    )
    for user_id, room_id in rows:
        muted[user_id].add(room_id)
    return muted


def shows_read_receipts(room: ChatRoom, reader_count: int) -> bool:
    """ "Seen by ..." appears in direct rooms and rooms of up to READ_RECEIPTS_MAX_MEMBERS."""
    return room.is_direct or reader_count <= settings.READ_RECEIPTS_MAX_MEMBERS


def read_receipts(room: ChatRoom, readers: list[User], viewer: User) -> list[dict[str, Any]]:
    """The other readers' pointers in a small room, for the room page's "Seen by ..." (the
    page shows those at or past the newest message). Empty in a big room. One query."""
    if not shows_read_receipts(room, len(readers)):
        return []
    others = {user.pk: user for user in readers if user.pk != viewer.pk}
    pointers = read_pointers(room.pk, others)
    return [
        {
            "user_id": user_id,
            "username": others[user_id].username,
            "display_name": others[user_id].get_display_name(),
            "message_id": message_id,
        }
        for user_id, message_id in sorted(pointers.items())
        if message_id
    ]

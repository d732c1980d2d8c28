"""Resolving @names to users and suggesting names, always scoped to the readers of one room or
one board (messaging.access / kanban.access): a mention can only reach someone who can read
the message it is in, and never anyone outside the organization."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

if TYPE_CHECKING:
    from accounts.models import User
    from kanban.models import Board
    from messaging.models import ChatRoom

SUGGESTION_LIMIT = 10


def _members(*, room: ChatRoom | None, board: Board | None) -> QuerySet[User]:
    if (room is None) == (board is None):
        raise ValueError("pass exactly one of room or board")
    from kanban.access import board_readers
    from messaging.access import room_readers

    if room is not None:
        return room_readers(room.pk)
    return board_readers(board.pk)


def mentionable_users(
    *, names: Iterable[str], room: ChatRoom | None = None, board: Board | None = None
) -> QuerySet[User]:
    """Members of `room` (or `board`) whose username matches one of `names`, ignoring case.

    One query. Nobody is excluded beyond the scope: the posting service drops the author.
    """
    lowered = {name.lower() for name in names if name}
    if not lowered:  # (building the scope's query costs the ORM ~1 ms: issue 16)
        from accounts.models import User

        return User.objects.none()
    members = _members(room=room, board=board)
    return (
        members.annotate(username_lower=Lower("username"))
        .filter(username_lower__in=lowered)
        .order_by("username_lower")
    )


def mention_suggestions(
    *,
    prefix: str,
    room: ChatRoom | None = None,
    board: Board | None = None,
    exclude_user_id: int | None = None,
    limit: int = SUGGESTION_LIMIT,
) -> list[dict[str, str]]:
    """Autocomplete rows `{"username", "display_name"}` for active members whose username or
    display name starts with `prefix` (any case), minus `exclude_user_id` (the person typing:
    mentioning yourself notifies nobody). Never matches or returns e-mail addresses."""
    members = _members(room=room, board=board).filter(is_active=True)
    if exclude_user_id is not None:
        members = members.exclude(pk=exclude_user_id)
    prefix = prefix.strip().lstrip("@")
    if prefix:
        members = members.filter(
            Q(username__istartswith=prefix) | Q(display_name__istartswith=prefix)
        )
    rows = members.order_by(Lower("username")).values("username", "display_name")[:limit]
    return [
        {"username": row["username"], "display_name": row["display_name"] or row["username"]}
        for row in rows
    ]

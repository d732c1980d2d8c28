"""Reads about chat rooms, scoped to a user.

A user sees a room while they are a member of the room *and* of its board; `get_room_for`
raises Http404 for a missing room and for one the user may not see alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import (
    CharField,
    Count,
    DateTimeField,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, NullIf
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from kanban.models import Board
from kanban.selectors import boards_for
from messaging import realtime
from messaging.models import ChatMessage, ChatRoom, UserTypingStatus

from .mentions import mentionable_users
from .paging import Page, keyset_page

# --- access ------------------------------------------------------------------------------


def rooms_for(user: User) -> QuerySet[ChatRoom]:
    """Rooms the user is a member of, on boards they are still a member of."""
    if not user.is_authenticated:
        return ChatRoom.objects.none()
    return ChatRoom.objects.filter(members=user, board__in=boards_for(user))


def get_room_for(user: User, room_id: int) -> ChatRoom:
    room = (
        rooms_for(user).select_related("board__created_by", "created_by").filter(pk=room_id).first()
    )
    if room is None:
        raise Http404("No such room.")
    return room


def is_room_member(*, user_id: int, room_id: int) -> bool:
    """Whether an active user may still read and write in the room (one query).

    Consumers call this on connect and before every message: membership can be revoked
    while a socket is open."""
    return (
        ChatRoom.objects.filter(
            pk=room_id, members__pk=user_id, members__is_active=True, board__members__pk=user_id
        )
        .order_by()
        .exists()
    )


def can_manage_room(user: User, room: ChatRoom) -> bool:
    """The room's creator and the board's creator may add and remove members."""
    return user.pk in (room.created_by_id, room.board.created_by_id)


# --- lists -------------------------------------------------------------------------------


def _last_message() -> QuerySet[ChatMessage]:
    return ChatMessage.objects.filter(chat_room=OuterRef("pk")).order_by("-pk")


def _member_count() -> Subquery:
    through = ChatRoom.members.through
    counts = (
        through.objects.filter(chatroom_id=OuterRef("pk"))
        .order_by()
        .values("chatroom_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), 0)


def board_rooms_for(user: User, board: Board) -> QuerySet[ChatRoom]:
    """The user's rooms on one board, by name, with `member_count` and `last_activity`
    (last message time, or creation time for a silent room). One query."""
    last_at = Subquery(_last_message().values("created_at")[:1], output_field=DateTimeField())
    return (
        rooms_for(user)
        .filter(board=board)
        .annotate(member_count=_member_count(), last_activity=Coalesce(last_at, "created_at"))
        .order_by("name", "pk")
    )


def inbox_rooms_for(user: User) -> QuerySet[ChatRoom]:
    """Every room the user is in, across boards, newest activity first, each with a preview
    of its last message (`last_content`, `last_author`, `last_at`). One query."""
    last = _last_message()
    author_name = Coalesce(NullIf("author__display_name", Value("")), "author__username")
    return (
        rooms_for(user)
        .select_related("board")
        .annotate(
            member_count=_member_count(),
            last_at=Subquery(last.values("created_at")[:1], output_field=DateTimeField()),
            last_content=Subquery(last.values("content")[:1], output_field=CharField()),
            last_author=Subquery(
                last.annotate(name=author_name).values("name")[:1], output_field=CharField()
            ),
        )
        .annotate(last_activity=Coalesce("last_at", "created_at"))
        .order_by("-last_activity", "-pk")
    )


def room_members(room: ChatRoom) -> QuerySet[User]:
    """Members who can still see the room (members of its board), by username."""
    return room.members.filter(boards=room.board_id, is_active=True).order_by("username")


def addable_members(room: ChatRoom) -> QuerySet[User]:
    """Board members who are not in the room yet."""
    return (
        User.objects.filter(boards=room.board_id, is_active=True)
        .exclude(chat_rooms=room)
        .order_by("username")
    )


def resolve_room_mentions(
    room: ChatRoom, names: Iterable[str], *, exclude_user_id: int | None = None
) -> list[User]:
    """Users mentioned by name who can read the room (members of it and of its board);
    unknown names, outsiders and `exclude_user_id` (the author) are silently ignored."""
    users = mentionable_users(names=names, room=room).filter(boards=room.board_id, is_active=True)
    if exclude_user_id is not None:
        users = users.exclude(pk=exclude_user_id)
    return list(users)


# --- messages ----------------------------------------------------------------------------


def _messages(room: ChatRoom) -> QuerySet[ChatMessage]:
    return ChatMessage.objects.filter(chat_room=room).select_related("author")


def _mentions_user(user_id: int) -> Exists:
    through = ChatMessage.mentioned_users.through
    return Exists(through.objects.filter(chatmessage_id=OuterRef("pk"), user_id=user_id))


def recent_messages(room: ChatRoom, user: User, *, limit: int | None = None) -> Page[ChatMessage]:
    """The latest top-level messages for the room page (replies live in their threads),
    oldest first, each with `mentions_me`."""
    queryset = (
        _messages(room).filter(parent__isnull=True).annotate(mentions_me=_mentions_user(user.pk))
    )
    return keyset_page(queryset, limit=limit or settings.CHAT_PAGE_SIZE)


def message_page(
    room: ChatRoom, *, before: int | None = None, after: int | None = None, limit: int
) -> Page[ChatMessage]:
    """A keyset page of the room's history with authors and mentioned users loaded
    (two queries whatever the page size)."""
    queryset = _messages(room).prefetch_related(
        Prefetch("mentioned_users", queryset=User.objects.only("pk", "username"))
    )
    return keyset_page(queryset, before=before, after=after, limit=limit)


def message_payload(message: ChatMessage) -> dict[str, Any]:
    """The wire shape of a saved message (the same one its broadcast carried)."""
    mentioned = [user.username for user in message.mentioned_users.all()]
    return realtime.chat_message_payload(message, mentioned)


# --- typing ------------------------------------------------------------------------------


def current_typists(room: ChatRoom, *, exclude_user_id: int | None = None) -> QuerySet[User]:
    """Users who typed in the room within TYPING_EXPIRY_SECONDS; older rows are stale."""
    since = timezone.now() - timedelta(seconds=settings.TYPING_EXPIRY_SECONDS)
    typing = UserTypingStatus.objects.filter(
        chat_room=room, user=OuterRef("pk"), last_update__gte=since
    )
    queryset = room_members(room).filter(Exists(typing))
    if exclude_user_id is not None:
        queryset = queryset.exclude(pk=exclude_user_id)
    return queryset

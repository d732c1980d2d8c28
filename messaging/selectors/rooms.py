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
from kanban import access as board_access
from kanban.models import Board
from messaging import access, realtime
from messaging.models import ChatMessage, ChatRoom, UserTypingStatus

from .mentions import mentionable_users
from .paging import Page, around_page, keyset_page

# --- access (messaging.access decides; these keep the selector names) -------------------


def rooms_for(user: User) -> QuerySet[ChatRoom]:
    """Rooms the user may read: `access.readable_rooms`."""
    return access.readable_rooms(user)


def get_room_for(user: User, room_id: int) -> ChatRoom:
    room = (
        rooms_for(user)
        .select_related("board__created_by", "board__organization", "created_by")
        .filter(pk=room_id)
        .first()
    )
    if room is None:
        raise Http404("No such room.")
    return room


def is_room_member(*, user_id: int, room_id: int) -> bool:
    """Whether the user may still read and write in the room (one query): consumers call
    this on connect and before every message. `access.can_read_room` by user id."""
    return access.can_read_room_id(user_id=user_id, room_id=room_id)


def can_manage_room(user: User, room: ChatRoom) -> bool:
    """The room's creator and whoever manages its board add and remove members."""
    return access.can_manage_room(user, room)


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
    """Members who can read the room (`access.room_readers`), by username."""
    return access.room_readers(room.pk).order_by("username")


def addable_members(room: ChatRoom) -> QuerySet[User]:
    """Readers of the room's board who cannot read the room yet."""
    return (
        board_access.board_readers(room.board_id)
        .exclude(pk__in=access.room_readers(room.pk).values("pk"))
        .order_by("username")
    )


def resolve_room_mentions(
    room: ChatRoom, names: Iterable[str], *, exclude_user_id: int | None = None
) -> list[User]:
    """Users mentioned by name who can read the room; unknown names, outsiders and
    `exclude_user_id` (the author) are silently ignored. No query, and no ORM work, for a
    text that mentions nobody (most messages: issue 16)."""
    names = [name for name in names if name]
    if not names:
        return []
    users = mentionable_users(names=names, room=room)
    if exclude_user_id is not None:
        users = users.exclude(pk=exclude_user_id)
    return list(users)


# --- messages ----------------------------------------------------------------------------


def _messages(room: ChatRoom) -> QuerySet[ChatMessage]:
    return (
        ChatMessage.objects.filter(chat_room=room)
        .select_related("author")
        .prefetch_related("attachments")  # issue 12
    )


def _mentions_user(user_id: int) -> Exists:
    through = ChatMessage.mentioned_users.through
    return Exists(through.objects.filter(chatmessage_id=OuterRef("pk"), user_id=user_id))


def recent_messages(
    room: ChatRoom, user: User, *, limit: int | None = None, around: int | None = None
) -> Page[ChatMessage] | None:
    """The latest top-level messages for the room page (replies live in their threads),
    oldest first, each with `mentions_me`; with `around`, the page centred on that message,
    or on its thread's root for a reply (None if it is not in the room)."""
    queryset = (
        _messages(room).filter(parent__isnull=True).annotate(mentions_me=_mentions_user(user.pk))
    )
    if around is not None:
        root_id = thread_root_id(room, around)
        return around_page(
            queryset, around=root_id or around, limit=limit or settings.CHAT_PAGE_SIZE
        )
    return keyset_page(queryset, limit=limit or settings.CHAT_PAGE_SIZE)


def thread_root_id(room: ChatRoom, message_id: int) -> int | None:
    """The root of the thread a reply of `room` belongs to; None for a top-level message (or
    one that is not in the room)."""
    return (
        ChatMessage.objects.filter(pk=message_id, chat_room=room)
        .values_list("parent_id", flat=True)
        .first()
    )


def message_page(
    room: ChatRoom,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int,
    around: int | None = None,
) -> Page[ChatMessage] | None:
    """A keyset page of the room's history with authors and mentioned users loaded
    (two queries whatever the page size). With `around`: the page centred on that message,
    None if it is not in the room."""
    queryset = _messages(room).prefetch_related(
        Prefetch("mentioned_users", queryset=User.objects.only("pk", "username"))
    )
    if around is not None:
        return around_page(queryset, around=around, limit=limit)
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

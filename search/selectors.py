"""Searching, scoped to what the searcher can read right now.

The scope comes from the one access rule (`messaging.access.readable_rooms`,
`kanban.access.readable_boards`): the same rule as the room and task pages, evaluated at query
time, so someone removed from a room or board stops
finding anything of it (snippets included) at once, and nothing needs re-indexing.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.safestring import SafeString

from kanban.access import readable_boards
from kanban.models import Board, Task
from messaging import realtime
from messaging.access import readable_rooms
from messaging.models import ChatRoom

from . import engine
from .highlight import render_snippet
from .models import SearchDocument
from .query import Query, QueryError

KINDS = tuple(SearchDocument.Kind.values)
ORDERS = (engine.RELEVANCE, engine.NEWEST)


@dataclass(frozen=True)
class Result:
    """One search result: what the page and the JSON show."""

    type: str
    id: int
    url: str
    snippet: SafeString
    author: str
    author_name: str
    created_at: datetime.datetime
    room_id: int | None
    task_id: int | None
    where: str  # "#general · Launch" or the task title

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "id": self.id,
            "url": self.url,
            "snippet": str(self.snippet),
            "author": self.author,
            "created_at": realtime.iso(self.created_at),
        }
        if self.type == SearchDocument.Kind.MESSAGE:
            data["room_id"] = self.room_id
        else:
            data["task_id"] = self.task_id
        return data


@dataclass(frozen=True)
class SearchPage:
    results: list[Result]
    has_more: bool
    cursor: str | None  # for the next page, when has_more
    order: str
    notes: tuple[str, ...] = ()


# --- cursors ----------------------------------------------------------------------------


def encode_cursor(order: str, hit: engine.Hit) -> str:
    value: Any = hit.score if order == engine.RELEVANCE else hit.created_at.isoformat()
    raw = json.dumps({"o": order, "v": value, "id": hit.id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: str) -> engine.Keyset:
    """The keyset a `next` link carries; QueryError if it was tampered with or belongs to the
    other sort order."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if data["o"] != order or not isinstance(data["id"], int):
            raise ValueError
        if order == engine.RELEVANCE:
            if not isinstance(data["v"], int | float):
                raise ValueError
            value: Any = float(data["v"])
        else:
            value = datetime.datetime.fromisoformat(data["v"])
            if value.tzinfo is None:
                raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise QueryError("That page link is not valid any more: search again.") from None
    return engine.Keyset(value=value, id=data["id"])


# --- scope and filters ------------------------------------------------------------------


def scope_for(user) -> engine.Scope:
    """What `user` can read now: their rooms and their boards (the access rule)."""
    return engine.Scope(
        user_id=user.pk,
        room_ids=list(readable_rooms(user).order_by().values_list("pk", flat=True)),
        board_ids=list(readable_boards(user).order_by().values_list("pk", flat=True)),
    )


def _by_names(queryset, field: str, names: tuple[str, ...]) -> tuple[int, ...]:
    lowered = {name.lower() for name in names}
    return tuple(
        queryset.annotate(_name=Lower(field))
        .filter(_name__in=lowered)
        .order_by()
        .values_list("pk", flat=True)
    )


def resolve_filters(
    query: Query, scope: engine.Scope, kind: str | None
) -> tuple[engine.Filters, list[str]]:
    """Names in the query to ids. Rooms and boards are looked up among those the user can
    read (so a name says nothing about rooms they cannot); people by username."""
    notes: list[str] = []
    author_ids = room_ids = board_ids = None
    if query.authors:
        users = get_user_model().objects.all()
        author_ids = _by_names(users, "username", query.authors)
    if query.rooms:
        rooms = ChatRoom.objects.filter(pk__in=scope.room_ids)
        room_ids = _by_names(rooms, "name", query.rooms)
        if not room_ids:
            names = ", ".join(f"#{name}" for name in query.rooms)
            notes.append(f"None of your rooms is called {names}.")
    if query.boards:
        boards = Board.objects.filter(pk__in=scope.board_ids)
        board_ids = _by_names(boards, "name", query.boards)
        if not board_ids:
            notes.append(f"None of your boards is called {', '.join(query.boards)}.")
    kinds: tuple[str, ...] = (kind,) if kind else ()
    if query.rooms and not kind:
        kinds = (SearchDocument.Kind.MESSAGE,)
    if query.mentions_me and not kind:
        kinds = (SearchDocument.Kind.MESSAGE, SearchDocument.Kind.COMMENT)
    filters = engine.Filters(
        kinds=kinds, author_ids=author_ids, room_ids=room_ids, board_ids=board_ids
    )
    return filters, notes


# --- results ----------------------------------------------------------------------------


def _url(hit: engine.Hit) -> str:
    if hit.kind == SearchDocument.Kind.MESSAGE:
        room_url = reverse("messaging:room_detail", args=[hit.room_id])
        return f"{room_url}?around={hit.object_id}#message-{hit.object_id}"
    task_url = reverse("kanban:task_detail", args=[hit.task_id])
    if hit.kind == SearchDocument.Kind.COMMENT:
        return f"{task_url}?around={hit.object_id}#comment-{hit.object_id}"
    return task_url


def _results(query: Query, hits: list[engine.Hit]) -> list[Result]:
    """Hits with their snippets, authors and places: four queries whatever the page size."""
    raw = engine.snippets(query, [hit.id for hit in hits])
    users = get_user_model().objects.in_bulk({h.author_id for h in hits if h.author_id})
    rooms = ChatRoom.objects.select_related("board").in_bulk({h.room_id for h in hits if h.room_id})
    tasks = Task.objects.select_related("column__board").in_bulk(
        {h.task_id for h in hits if h.task_id}
    )
    results = []
    for hit in hits:
        author = users.get(hit.author_id)
        if hit.room_id:
            room = rooms[hit.room_id]
            where = f"#{room.name}" + (f" · {room.board.name}" if room.board_id else "")
        else:
            task = tasks[hit.task_id]
            where = f"{task.title} · {task.column.board.name}"
        text = raw.get(hit.id, "")
        results.append(
            Result(
                type=hit.kind,
                id=hit.object_id,
                url=_url(hit),
                snippet=render_snippet(text, truncated=not query.include and len(text) >= 240),
                author=author.username if author else "",
                author_name=author.get_display_name() if author else "",
                created_at=hit.created_at,
                room_id=hit.room_id,
                task_id=hit.task_id,
                where=where,
            )
        )
    return results


def default_order(query: Query) -> str:
    return engine.RELEVANCE if query.include else engine.NEWEST


def search_for(
    user,
    query: Query,
    *,
    order: str | None = None,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
    scope: engine.Scope | None = None,
) -> SearchPage:
    """One page of results for `query` among what `user` can read, best or newest first.

    Keyset paging: `cursor` (from the previous page) says where to continue, never an
    offset. Raises QueryError for a bad cursor."""
    limit = limit or settings.SEARCH_PAGE_SIZE
    order = order if order in ORDERS else default_order(query)
    if order == engine.RELEVANCE and not query.include:
        order = engine.NEWEST  # nothing to rank by
    after = decode_cursor(cursor, order) if cursor else None
    if query.is_empty:
        return SearchPage(results=[], has_more=False, cursor=None, order=order)
    scope = scope or scope_for(user)
    filters, notes = resolve_filters(query, scope, kind)
    hits = engine.run_search(query, scope, filters, order=order, after=after, limit=limit + 1)
    has_more = len(hits) > limit
    hits = hits[:limit]
    next_cursor = encode_cursor(order, hits[-1]) if has_more else None
    return SearchPage(
        results=_results(query, hits),
        has_more=has_more,
        cursor=next_cursor,
        order=order,
        notes=tuple(notes),
    )

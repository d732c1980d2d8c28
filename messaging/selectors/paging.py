"""Keyset paging by primary key, shared by chat history and comment history.

Never OFFSET: a page is "the `limit` rows just before (or just after) a known id", so new rows
arriving while a client pages backwards cannot shift or repeat what it sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Page(Generic[M]):
    """Rows oldest first. `has_more`: more rows exist beyond this page in the paging
    direction (older ones for `before` / the latest page, newer ones for `after`)."""

    items: list[M]
    has_more: bool
    # Only for a page around an item (`around_page`): newer rows exist beyond this page.
    has_newer: bool = False


def keyset_page(
    queryset: QuerySet[M], *, before: int | None = None, after: int | None = None, limit: int
) -> Page[M]:
    """One page of `queryset` by id. With neither `before` nor `after`, the latest page.

    Fetches `limit + 1` rows to learn whether more exist, without a COUNT.
    """
    if before is not None and after is not None:
        raise ValueError("pass before or after, not both")
    if after is not None:
        rows = list(queryset.filter(pk__gt=after).order_by("pk")[: limit + 1])
        return Page(items=rows[:limit], has_more=len(rows) > limit)
    if before is not None:
        queryset = queryset.filter(pk__lt=before)
    rows = list(queryset.order_by("-pk")[: limit + 1])
    items = rows[:limit]
    items.reverse()
    return Page(items=items, has_more=len(rows) > limit)


def around_page(queryset: QuerySet[M], *, around: int, limit: int) -> Page[M] | None:
    """The page centred on the row `around` (search results open a room there): up to half of
    `limit` older rows, the row, and newer rows. `has_more` says older rows exist before the
    page, `has_newer` that newer ones exist after it. None if `around` is not in `queryset`."""
    older_count = limit // 2
    newer_count = limit - older_count  # the row itself included
    rest = list(queryset.filter(pk__gte=around).order_by("pk")[: newer_count + 1])
    if not rest or rest[0].pk != around:
        return None
    older = list(queryset.filter(pk__lt=around).order_by("-pk")[: older_count + 1])
    items = older[:older_count]
    items.reverse()
    return Page(
        items=items + rest[:newer_count],
        has_more=len(older) > older_count,
        has_newer=len(rest) > newer_count,
    )

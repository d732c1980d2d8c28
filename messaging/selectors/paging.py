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

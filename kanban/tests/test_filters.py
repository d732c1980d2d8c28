"""kanban.filters: the board's card filters as a pure function (static/js/lib/filters.js
implements the same rules)."""

from __future__ import annotations

import datetime

import pytest
from django.http import QueryDict

from kanban.filters import CardFilter, matches, week_end

WED = datetime.date(2026, 12, 2)
ME = 7


def card(**fields):
    return {"title": "Launch post", "assignee": None, "labels": [], "due_date": None, **fields}


@pytest.mark.parametrize(
    ("query", "fields", "expected"),
    [
        ("", {}, True),
        ("assignee=me", {"assignee": {"id": ME}}, True),
        ("assignee=me", {"assignee": {"id": 8}}, False),
        ("assignee=me", {}, False),
        ("assignee=none", {}, True),
        ("assignee=8", {"assignee": {"id": 8}}, True),
        ("label=3", {"labels": [{"id": 3}]}, True),
        ("label=3", {"labels": [{"id": 4}]}, False),
        ("due=overdue", {"due_date": "2026-12-01"}, True),
        ("due=overdue", {"due_date": "2026-12-02"}, False),
        ("due=overdue", {}, False),
        ("due=week", {"due_date": "2026-12-06"}, True),  # Sunday
        ("due=week", {"due_date": "2026-12-07"}, False),  # next Monday
        ("due=week", {"due_date": "2026-12-01"}, False),  # already past
        ("q=LAUNCH", {}, True),
        ("q=release", {}, False),
        ("assignee=me&q=post", {"assignee": {"id": ME}}, True),
        ("assignee=robert'); drop&due=soon&label=x", {}, True),  # junk is ignored
    ],
)
def test_matches(query, fields, expected):
    f = CardFilter.from_query(QueryDict(query))
    assert matches(card(**fields), f, user_id=ME, today=WED) is expected


def test_week_ends_on_sunday():
    assert week_end(WED) == datetime.date(2026, 12, 6)
    assert week_end(datetime.date(2026, 12, 6)) == datetime.date(2026, 12, 6)


def test_active_only_with_a_filter():
    assert not CardFilter.from_query(QueryDict("")).active
    assert CardFilter.from_query(QueryDict("q=x")).active

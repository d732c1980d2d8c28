"""Odd input never crashes a search: every query is a 200 or a 400 with a message."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

ODD = [
    "_",
    "__init__",
    "a_b",
    "日本語",
    "ü",
    "—",
    "'",
    "x'y",
    "OR OR",
    '""',
    '"',
    "in:",
    "from:@",
    "board:",
    "-",
    "--",
    "*",
    "deploy*",
    "NEAR(a b)",
    "a AND b",
    "NOT a",
    "(a",
    "a)",
    "^a",
    "col:val",
    "\\",
    "%",
    "%%",
    "?",
    "@",
    "#",
    "a:b:c",
    "in:#",
    "from:@@bob",
    "x" * 100,
    "\u0000",
    "\ue000 mark",
    "a\tb\nc",
    '-""',
    "after:0000-01-01",
    "before:9999-12-31",
]


@pytest.mark.parametrize("q", ODD)
def test_odd_queries_answer_200_or_400(room, alice, say, search_json, client_for, q):
    say(room, alice, "deploy a_b __init__ 日本語 ü x'y")
    status, body = search_json(alice, q)
    assert status in (200, 400), body
    assert ("results" in body) if status == 200 else body["error"]
    assert client_for(alice).get("/search/", {"q": q}).status_code in (200, 400)

"""The query language, as pure data (no database)."""

import datetime

import pytest

from search.query import Query, QueryError, Term, parse


def words(*texts: str) -> tuple:
    return tuple((Term(text),) for text in texts)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", Query()),
        ("   ", Query()),
        ("deploy plan", Query(include=words("deploy", "plan"))),
        ('"rotation plan"', Query(include=((Term("rotation plan", phrase=True),),))),
        ('"unterminated phrase', Query(include=((Term("unterminated phrase", phrase=True),),))),
        ('"single"', Query(include=((Term("single"),),))),
        ("staging -prod", Query(include=words("staging"), exclude=(Term("prod"),))),
        ('plan -"old draft"', Query(include=words("plan"), exclude=(Term("old draft", True),))),
        ("staging OR prod", Query(include=((Term("staging"), Term("prod")),))),
        ("plan staging OR prod", Query(include=((Term("plan"),), (Term("staging"), Term("prod"))))),
        ("a OR b OR c", Query(include=((Term("a"), Term("b"), Term("c")),))),
        ("or lowercase", Query(include=words("or", "lowercase"))),
        ("from:@bob", Query(authors=("bob",))),
        ("from:bob from:@Carol", Query(authors=("bob", "Carol"))),
        ("in:#general", Query(rooms=("general",))),
        ('in:"q4 plans" budget', Query(include=words("budget"), rooms=("q4 plans",))),
        ("board:Launch", Query(boards=("Launch",))),
        ("has:attachment", Query(has_attachment=True)),
        ("before:2026-12-01", Query(before=datetime.date(2026, 12, 1))),
        ("after:2026-11-01", Query(after=datetime.date(2026, 11, 1))),
        ("is:mention", Query(mentions_me=True)),
        ("FROM:@bob IS:mention", Query(authors=("bob",), mentions_me=True)),
        ("see https://example.com/x", Query(include=words("see", "https://example.com/x"))),
        ("12:30 standup", Query(include=words("12:30", "standup"))),
        ("!!! ... plan", Query(include=words("plan"))),
        ("-prod from:@bob", Query(exclude=(Term("prod"),), authors=("bob",))),
        ("after:2026-11-01 after:2026-11-05", Query(after=datetime.date(2026, 11, 5))),
    ],
)
def test_parse(raw, expected):
    assert parse(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message_part"),
    [
        ("colour:red", "Unknown filter “colour:”"),
        ("has:picture", "has:attachment"),
        ("is:unread", "is:mention"),
        ("before:yesterday", "YYYY-MM-DD"),
        ("after:2026-13-01", "YYYY-MM-DD"),
        ("from:", "needs a value"),
        ("-from:@bob plan", "cannot be excluded"),
        ("OR plan", "OR needs a word on each side"),
        ("plan OR", "OR needs a word on each side"),
        ("plan OR -prod", "cannot be part of an OR"),
        ("-prod", "-word only excludes"),
        ("after:2026-12-01 before:2026-11-01", "after: must be earlier"),
        ("x" * 501, "limited to 500"),
        (" ".join(f"w{i}" for i in range(21)), "at most 20"),
    ],
)
def test_parse_refuses_with_a_reason(raw, message_part):
    with pytest.raises(QueryError) as error:
        parse(raw)
    assert message_part in str(error.value)


def test_positive_terms_are_what_a_snippet_highlights():
    assert parse('a OR b "c d" -e').terms() == [Term("a"), Term("b"), Term("c d", True)]


def test_a_word_ending_in_a_colon_is_a_word():
    assert parse("Agenda: budget") == Query(include=words("Agenda:", "budget"))

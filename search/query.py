"""The search box's query language, parsed into plain data (no ORM, no database).

    deploy plan                 both words (any order, stemmed: "plans" finds "plan")
    "rotation plan"             the exact phrase
    staging -prod               "staging" but not "prod"
    staging OR prod             either word (OR binds tighter than the implicit AND:
                                `plan staging OR prod` is plan AND (staging OR prod))
    from:@bob  from:bob         written by bob (repeat for any of several people)
    in:#general  in:"q4 plans"  in that room (by name; repeat for any of several)
    board:Launch                on that board (messages in its rooms, its tasks and comments)
    has:attachment              with an attachment
    before:2026-12-01           created before that day (the day itself excluded)
    after:2026-11-01            created on or after that day
    is:mention                  messages and comments that mention me

Both search engines compile the same `Query`: `backends` turns `Query.text` into an FTS5 MATCH
expression or a tsquery built from `websearch_to_tsquery` leaves.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

MAX_QUERY_LENGTH = 500
MAX_TERMS = 20

FILTERS = ("from", "in", "board", "has", "before", "after", "is")
HELP = (
    "from:@name, in:#room, board:name, has:attachment, before:YYYY-MM-DD, "
    "after:YYYY-MM-DD, is:mention"
)


class QueryError(ValueError):
    """A query the user should rephrase; the message is shown to them as is."""


@dataclass(frozen=True)
class Term:
    """A word or an exact phrase (`phrase=True`)."""

    text: str
    phrase: bool = False


@dataclass(frozen=True)
class Query:
    """`include`: groups that must all match, each a tuple of alternatives (OR) of which one
    must match. `exclude`: terms none of which may match."""

    include: tuple[tuple[Term, ...], ...] = ()
    exclude: tuple[Term, ...] = ()
    authors: tuple[str, ...] = ()
    rooms: tuple[str, ...] = ()
    boards: tuple[str, ...] = ()
    has_attachment: bool = False
    before: datetime.date | None = None
    after: datetime.date | None = None
    mentions_me: bool = False

    @property
    def has_text(self) -> bool:
        return bool(self.include or self.exclude)

    @property
    def has_filters(self) -> bool:
        return bool(
            self.authors
            or self.rooms
            or self.boards
            or self.has_attachment
            or self.before
            or self.after
            or self.mentions_me
        )

    @property
    def is_empty(self) -> bool:
        return not self.has_text and not self.has_filters

    def terms(self) -> list[Term]:
        """Every positive term (what a snippet highlights)."""
        return [term for group in self.include for term in group]


# A token: an optional "-", then either key:"quoted value", key:value, "a phrase" or a word.
_TOKEN = re.compile(
    r"""
    (?P<neg>-)?
    (?:
        (?P<key>[A-Za-z]+):(?:"(?P<qvalue>[^"]*)"?|(?P<value>\S*))
      | "(?P<phrase>[^"]*)"?
      | (?P<word>\S+)
    )
    """,
    re.VERBOSE,
)
_HAS_WORD_CHAR = re.compile(r"\w")
# Characters that mean nothing to either engine inside a term; dropped before matching.
_TERM_JUNK = re.compile(r'["\u0000-\u001f]')


@dataclass
class _Builder:
    groups: list[list[Term]] = field(default_factory=list)
    exclude: list[Term] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    rooms: list[str] = field(default_factory=list)
    boards: list[str] = field(default_factory=list)
    has_attachment: bool = False
    before: datetime.date | None = None
    after: datetime.date | None = None
    mentions_me: bool = False
    pending_or: bool = False

    def add_term(self, term: Term, *, negative: bool) -> None:
        if negative:
            if self.pending_or:
                raise QueryError("An excluded term (-word) cannot be part of an OR.")
            self.exclude.append(term)
            return
        if self.pending_or and self.groups:
            self.groups[-1].append(term)
        else:
            self.groups.append([term])
        self.pending_or = False

    def add_or(self) -> None:
        if not self.groups or self.pending_or:
            raise QueryError("OR needs a word on each side, as in: staging OR production.")
        self.pending_or = True

    def add_filter(self, key: str, value: str, *, negative: bool) -> None:
        key = key.lower()
        if negative:
            raise QueryError(f"Filters cannot be excluded: remove the “-” before {key}:.")
        value = value.strip()
        if not value:
            raise QueryError(f"{key}: needs a value, as in {_EXAMPLES[key]}.")
        if key == "from":
            self.authors.append(value.lstrip("@"))
        elif key == "in":
            self.rooms.append(value.lstrip("#"))
        elif key == "board":
            self.boards.append(value)
        elif key == "has":
            if value.lower() not in ("attachment", "attachments", "file", "files"):
                raise QueryError(f"Unknown has:{value}. Try has:attachment.")
            self.has_attachment = True
        elif key == "is":
            if value.lower() not in ("mention", "mentions", "mentioned"):
                raise QueryError(f"Unknown is:{value}. Try is:mention.")
            self.mentions_me = True
        elif key in ("before", "after"):
            day = _parse_date(key, value)
            if key == "before":
                self.before = day if self.before is None else min(self.before, day)
            else:
                self.after = day if self.after is None else max(self.after, day)

    def build(self) -> Query:
        if self.pending_or:
            raise QueryError("OR needs a word on each side, as in: staging OR production.")
        if len(self.groups) + len(self.exclude) > MAX_TERMS:
            raise QueryError(f"Use at most {MAX_TERMS} words or phrases.")
        query = Query(
            include=tuple(tuple(group) for group in self.groups),
            exclude=tuple(self.exclude),
            authors=tuple(dict.fromkeys(self.authors)),
            rooms=tuple(dict.fromkeys(self.rooms)),
            boards=tuple(dict.fromkeys(self.boards)),
            has_attachment=self.has_attachment,
            before=self.before,
            after=self.after,
            mentions_me=self.mentions_me,
        )
        if query.exclude and not query.include and not query.has_filters:
            raise QueryError("Add a word or a filter to search for: -word only excludes.")
        if query.before and query.after and query.after >= query.before:
            raise QueryError("after: must be earlier than before:, or nothing can match.")
        return query


_EXAMPLES = {
    "from": "from:@bob",
    "in": "in:#general",
    "board": "board:Launch",
    "has": "has:attachment",
    "before": "before:2026-12-01",
    "after": "after:2026-11-01",
    "is": "is:mention",
}


def _parse_date(key: str, value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        example = _EXAMPLES[key]
        raise QueryError(f"{key}: takes a date written YYYY-MM-DD, as in {example}.") from None


def _clean_term(text: str) -> str | None:
    text = " ".join(_TERM_JUNK.sub(" ", text).split())
    return text if _HAS_WORD_CHAR.search(text) else None


def parse(raw: str) -> Query:
    """Parse the search box's text. Raises QueryError with a message for the user."""
    if len(raw) > MAX_QUERY_LENGTH:
        raise QueryError(f"Searches are limited to {MAX_QUERY_LENGTH} characters.")
    builder = _Builder()
    for match in _TOKEN.finditer(raw):
        negative = bool(match["neg"])
        if match["key"] is not None:
            key = match["key"]
            value = match["qvalue"] if match["qvalue"] is not None else match["value"]
            if key.lower() in FILTERS:
                builder.add_filter(key, value, negative=negative)
                continue
            # "Agenda:" (prose) and "https://..." (a URL) are words, not filters.
            if not value or value.startswith("//"):
                text = _clean_term(f"{key}:{value}")
                if text:
                    builder.add_term(Term(text), negative=negative)
                continue
            raise QueryError(f"Unknown filter “{key}:”. Filters are: {HELP}.")
        if match["phrase"] is not None:
            text = _clean_term(match["phrase"])
            if text:
                builder.add_term(Term(text, phrase=" " in text), negative=negative)
            continue
        word = match["word"]
        if word == "OR" and not negative:
            builder.add_or()
            continue
        text = _clean_term(word)
        if text:
            builder.add_term(Term(text), negative=negative)
    return builder.build()

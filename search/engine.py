"""SQL for the search index on both engines: writing rows and running a parsed query.

Everything but the text match is the same SQL on PostgreSQL and SQLite (filters, the access
rule, keyset paging). The text match differs:

- PostgreSQL: `search_vector @@ <tsquery>`, where the tsquery is built from the parsed query's
  terms, each one `websearch_to_tsquery(SEARCH_LANGUAGE, '"term"')` (a bound parameter),
  combined with `&&`, `||` and `!!`; ranked by `ts_rank_cd`; snippets by `ts_headline`.
- SQLite: `search_fts MATCH <expression>`, the same terms as FTS5 strings combined with AND,
  OR and NOT; ranked by `bm25`; snippets by `snippet()`.

Both engines mark matches in snippets with two private-use characters that the index never
stores (`clean_text` removes them), so `highlight.render_snippet` can escape the text first and
only then turn the markers into <mark> tags.
"""

from __future__ import annotations

import datetime
import html
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from messaging.models import ChatMessage, TaskThreadComment

from .query import Query, Term

MARK_START = "\ue000"
MARK_END = "\ue001"
SNIPPET_WORDS = 24
TABLE = "search_searchdocument"

ROW_FIELDS = (
    "kind",
    "object_id",
    "message_id",
    "comment_id",
    "room_id",
    "task_id",
    "board_id",
    "author_id",
    "created_at",
    "text",
    "has_attachments",
)


def clean_text(text: str) -> str:
    """What the index stores: the text without the snippet marker characters."""
    return text.replace(MARK_START, " ").replace(MARK_END, " ")


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def language() -> str:
    return settings.SEARCH_LANGUAGE


# --- writing ----------------------------------------------------------------------------


def upsert(rows: list[dict[str, Any]]) -> None:
    """Insert or replace index rows (keyed by kind and object id) in one statement."""
    if not rows:
        return
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    postgres = is_postgres()
    columns = [*ROW_FIELDS, "indexed_at"] + (["search_vector"] if postgres else [])
    one = ["%s"] * (len(ROW_FIELDS) + 1) + (["to_tsvector(%s::regconfig, %s)"] if postgres else [])
    values, params = [], []
    for row in rows:
        values.append(f"({', '.join(one)})")
        for name in ROW_FIELDS:
            value = row[name]
            if name == "created_at":
                value = connection.ops.adapt_datetimefield_value(value)
            params.append(value)
        params.append(now)
        if postgres:
            params += [language(), row["text"]]
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in ("kind", "object_id"))
    sql = (
        f"INSERT INTO {TABLE} ({', '.join(columns)}) VALUES {', '.join(values)} "
        f"ON CONFLICT (kind, object_id) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def delete(kind: str, object_ids: list[int]) -> None:
    if not object_ids:
        return
    marks = ", ".join(["%s"] * len(object_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {TABLE} WHERE kind = %s AND object_id IN ({marks})", [kind, *object_ids]
        )


# --- searching --------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What the searcher may read right now (from the access selectors) and who they are."""

    user_id: int
    room_ids: list[int]
    board_ids: list[int]


@dataclass(frozen=True)
class Filters:
    """The query's filters resolved to ids (names are resolved within the scope)."""

    kinds: tuple[str, ...] = ()
    author_ids: tuple[int, ...] | None = None
    room_ids: tuple[int, ...] | None = None
    board_ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Hit:
    id: int
    kind: str
    object_id: int
    room_id: int | None
    task_id: int | None
    board_id: int | None
    author_id: int | None
    created_at: datetime.datetime
    score: float
    snippet: str = ""  # the raw text excerpt with MARK_START/MARK_END around matches


@dataclass(frozen=True)
class Keyset:
    """Where the previous page ended: its last row's sort value and id."""

    value: Any
    id: int


def _in(column: str, ids: list[int] | tuple[int, ...], params: list) -> str:
    if not ids:
        return "1 = 0"
    params.extend(ids)
    return f"{column} IN ({', '.join(['%s'] * len(ids))})"


def _day_start(day: datetime.date) -> Any:
    moment = datetime.datetime.combine(day, datetime.time.min)
    return connection.ops.adapt_datetimefield_value(timezone.make_aware(moment))


def _mention_sql(user_id: int, params: list) -> str:
    """Rows mentioning the user, as a semi-join driven from the (few) mention rows: an
    EXISTS per row would scan the searcher's whole history to fill a page."""
    parts = []
    for model, fk in ((ChatMessage, "message_id"), (TaskThreadComment, "comment_id")):
        through = model.mentioned_users.through
        own = through._meta.get_field(model._meta.model_name).column
        user = through._meta.get_field("user").column
        parts.append(
            f"SELECT md.id FROM {TABLE} md JOIN {through._meta.db_table} mu "
            f"ON mu.{own} = md.{fk} WHERE mu.{user} = %s"
        )
        params.append(user_id)
    return f"d.id IN ({' UNION ALL '.join(parts)})"


def _where(query: Query, scope: Scope, filters: Filters, params: list) -> list[str]:
    """The access rule and the filters: the same SQL on both engines."""
    if filters.room_ids is not None:
        # in:#room names were resolved among the readable rooms only, so the room list is the
        # access rule already; alone, it lets one index serve the page in order.
        where = [_in("d.room_id", [r for r in filters.room_ids if r in scope.room_ids], params)]
    else:
        rooms = _in("d.room_id", scope.room_ids, params)
        boards = _in("d.board_id", scope.board_ids, params)
        where = [f"({rooms} OR (d.room_id IS NULL AND {boards}))"]
    if filters.kinds:
        where.append(_in("d.kind", list(filters.kinds), params))
    if filters.author_ids is not None:
        where.append(_in("d.author_id", filters.author_ids, params))
    if filters.board_ids is not None:
        where.append(_in("d.board_id", filters.board_ids, params))
    if query.has_attachment:
        where.append("d.has_attachments = %s")
        params.append(True)
    if query.after:
        where.append("d.created_at >= %s")
        params.append(_day_start(query.after))
    if query.before:
        where.append("d.created_at < %s")
        params.append(_day_start(query.before))
    if query.mentions_me:
        where.append(_mention_sql(scope.user_id, params))
    return where


# --- the text match, per engine ---------------------------------------------------------


def _fts_string(term: Term) -> str:
    return '"' + term.text.replace('"', " ") + '"'


def fts_expression(groups: tuple | list, exclude: tuple[Term, ...] = ()) -> str:
    """FTS5 MATCH text for the positive groups, minus the excluded terms."""
    parts = []
    for group in groups:
        alternatives = " OR ".join(_fts_string(term) for term in group)
        parts.append(f"({alternatives})" if len(group) > 1 else alternatives)
    expression = " AND ".join(parts)
    if exclude and expression:
        expression = f"({expression}) NOT ({' OR '.join(_fts_string(t) for t in exclude)})"
    return expression


def _tsquery_leaf(term: Term, params: list) -> str:
    params += [language(), f'"{term.text}"']
    return "websearch_to_tsquery(%s::regconfig, %s)"


def tsquery_sql(groups: tuple[tuple[Term, ...], ...] | list, params: list) -> str:
    """A tsquery expression: the groups ANDed, each group's terms ORed."""
    parts = []
    for group in groups:
        leaves = [_tsquery_leaf(term, params) for term in group]
        parts.append(f"({' || '.join(leaves)})" if len(leaves) > 1 else leaves[0])
    return " && ".join(parts)


def _text_match(query: Query, params: list) -> tuple[str, str, str]:
    """(FROM clause, extra WHERE condition or "", score expression) for the text part."""
    positive = bool(query.include)
    if is_postgres():
        if positive:
            qparams: list = []
            tsquery = tsquery_sql(query.include, qparams)
            for term in query.exclude:
                tsquery = f"({tsquery}) && !!{_tsquery_leaf(term, qparams)}"
            # The tsquery appears twice (rank, match): its parameters twice, rank first.
            params += qparams
            score = f"ts_rank_cd(d.search_vector, {tsquery})::float8"
            params += qparams
            return f"{TABLE} d", f"d.search_vector @@ ({tsquery})", score
        if query.exclude:
            qparams = []
            tsquery = tsquery_sql([query.exclude], qparams)
            params += qparams
            return f"{TABLE} d", f"NOT coalesce(d.search_vector @@ ({tsquery}), false)", "0.0"
        return f"{TABLE} d", "", "0.0"
    if positive:
        params.append(fts_expression(query.include, query.exclude))
        return (
            f"search_fts JOIN {TABLE} d ON d.id = search_fts.rowid",
            "search_fts MATCH %s",
            "-bm25(search_fts)",
        )
    if query.exclude:
        params.append(fts_expression([query.exclude]))
        return (
            f"{TABLE} d",
            "d.id NOT IN (SELECT rowid FROM search_fts WHERE search_fts MATCH %s)",
            "0.0",
        )
    return f"{TABLE} d", "", "0.0"


# --- the query --------------------------------------------------------------------------

NEWEST = "newest"
RELEVANCE = "relevance"
_COLUMNS = "d.id, d.kind, d.object_id, d.room_id, d.task_id, d.board_id, d.author_id, d.created_at"


def search_sql(
    query: Query,
    scope: Scope,
    filters: Filters,
    *,
    order: str,
    after: Keyset | None,
    limit: int,
) -> tuple[str, list]:
    """One page of matching rows (ids and sort keys), `limit` rows."""
    params: list = []
    from_clause, match, score = _text_match(query, params)
    where = _where(query, scope, filters, params)
    if match:
        where.insert(0, match)
    inner = f"SELECT {_COLUMNS}, {score} AS score FROM {from_clause} WHERE {' AND '.join(where)}"
    sort = "r.score" if order == RELEVANCE else "r.created_at"
    outer_where = ""
    if after is not None:
        value = after.value
        if order == NEWEST:
            value = connection.ops.adapt_datetimefield_value(value)
        outer_where = f"WHERE ({sort} < %s OR ({sort} = %s AND r.id < %s))"
        params += [value, value, after.id]
    sql = (
        f"SELECT r.* FROM ({inner}) r {outer_where} "
        f"ORDER BY {sort} DESC, r.id DESC LIMIT {int(limit)}"
    )
    return sql, params


def run_search(
    query: Query,
    scope: Scope,
    filters: Filters,
    *,
    order: str,
    after: Keyset | None,
    limit: int,
) -> list[Hit]:
    sql, params = search_sql(query, scope, filters, order=order, after=after, limit=limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    hits = []
    for row in rows:
        created_at = row[7]
        if not isinstance(created_at, datetime.datetime):  # SQLite may hand back text
            created_at = datetime.datetime.fromisoformat(created_at)
        if timezone.is_naive(created_at):  # SQLite stores UTC without an offset
            created_at = created_at.replace(tzinfo=datetime.UTC)
        hits.append(Hit(*row[:7], created_at=created_at, score=float(row[8])))
    return hits


# --- snippets ---------------------------------------------------------------------------


def snippets(query: Query, doc_ids: list[int]) -> dict[int, str]:
    """Excerpts of the given rows with the positive terms marked; the text's opening words
    when the query has none."""
    if not doc_ids:
        return {}
    params: list = []
    ids = _in("id", doc_ids, params)
    if not query.include:
        sql = f"SELECT id, substr(text, 1, 240) FROM {TABLE} WHERE {ids}"
    elif is_postgres():
        qparams: list = []
        tsquery = tsquery_sql(query.include, qparams)
        options = (
            f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords={SNIPPET_WORDS}, "
            'MinWords=8, MaxFragments=2, FragmentDelimiter=" … "'
        )
        # ts_headline drops what looks like HTML tags: give it the text escaped (undone below)
        # so a snippet shows exactly what was written.
        escaped = "replace(replace(replace(text, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"
        sql = (
            f"SELECT id, ts_headline(%s::regconfig, {escaped}, ({tsquery}), %s) FROM {TABLE} "
            f"WHERE {ids}"
        )
        params = [language(), *qparams, options, *params]
    else:
        sql = (
            "SELECT rowid, snippet(search_fts, 0, %s, %s, '…', %s) FROM search_fts "
            f"WHERE search_fts MATCH %s AND {_in('rowid', doc_ids, [])}"
        )
        params = [MARK_START, MARK_END, SNIPPET_WORDS, fts_expression(query.include), *doc_ids]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = {row[0]: row[1] or "" for row in cursor.fetchall()}
    if query.include and is_postgres():
        rows = {key: html.unescape(value) for key, value in rows.items()}
    return rows

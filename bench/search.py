"""The search benchmark (`make bench-search`, `manage.py bench_search`): PostgreSQL full-text
search over 1,000,000 messages in 1,000 rooms, searched by a user who can read 50 of them.

The orchestrator creates a fresh database (`taskflow_bench_search`, or --db-name, on the
server DATABASE_URL names, dropped afterwards unless --keep), migrates it, then runs
`bench_search --in-db` in a child process pointed at it, which bulk-loads the data with
generate_series (no ORM per row), builds the index rows with `to_tsvector` in one INSERT ...
SELECT, creates the indexes after the load, and times the real search path
(`search.selectors.search_for`: scope, query, snippets, authors and rooms) for each kind of
query. It prints p50/p95/max per query kind against the
100 ms target and the EXPLAIN ANALYZE of one query of each kind, checking that the text match
uses the GIN index.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "taskflow_bench_search"
TARGET_P95_MS = 100.0
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "ten",
    "vo",
    "sul",
    "pre",
    "dan",
    "qui",
    "bor",
    "fel",
    "gat",
    "hin",
    "jus",
    "lem",
    "nor",
    "pit",
    "ros",
    "tav",
    "bel",
    "cor",
    "dis",
    "fam",
    "gor",
    "hul",
    "ister",
    "jon",
    "kel",
    "mun",
]
COMMON = [
    "the",
    "deploy",
    "plan",
    "staging",
    "release",
    "password",
    "rotation",
    "budget",
    "review",
    "meeting",
    "customer",
    "bug",
    "fix",
    "test",
    "build",
    "server",
    "database",
    "backup",
    "migration",
    "report",
    "design",
    "invoice",
    "contract",
    "launch",
    "feature",
    "metrics",
    "outage",
    "incident",
    "monitor",
    "alert",
    "cache",
    "queue",
    "worker",
    "login",
    "session",
    "token",
    "audit",
    "security",
    "roadmap",
    "sprint",
    "ticket",
    "branch",
    "merge",
    "docs",
    "api",
    "client",
    "mobile",
    "search",
    "index",
]


@dataclass(frozen=True)
class Shape:
    messages: int = 1_000_000
    rooms: int = 1_000
    rooms_per_board: int = 10
    readable_rooms: int = 50
    users: int = 200
    words_per_message: int = 10
    vocabulary: int = 5_000
    iterations: int = 60


def vocabulary(size: int) -> list[str]:
    """Real words first (the most frequent), then pronounceable made-up ones."""
    words = list(COMMON)
    rng = random.Random(7)
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


# --- the orchestrator -------------------------------------------------------------------


def default_server_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return url
    return "postgres://postgres@127.0.0.1:5432/postgres"


def run(
    *,
    server_url: str | None,
    keep: bool,
    reuse: bool = False,
    shape: Shape,
    db_name: str = DB_NAME,
    out=sys.stdout,
) -> int:
    """Create (unless `reuse`), migrate, load and measure the bench database `db_name`; drop
    it afterwards unless `keep`. Several people sharing one server each pass their own name."""
    import psycopg

    parts = urlsplit(server_url or default_server_url())
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    bench_url = urlunsplit(parts._replace(path=f"/{db_name}"))
    env = {**os.environ, "DATABASE_URL": bench_url, "DJANGO_DB_POOL_SIZE": "0"}
    env.pop("REDIS_URL", None)  # not needed; embedded layer and eager Celery in the child
    if not reuse:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{db_name}"')
    try:
        if not reuse:
            out.write(f"bench database {db_name}: migrating\n")
            out.flush()
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=ROOT,
                env=env,
                check=True,
            )
        args = [
            sys.executable,
            "manage.py",
            "bench_search",
            "--in-db",
            "--messages",
            str(shape.messages),
            "--iterations",
            str(shape.iterations),
        ] + (["--reuse"] if reuse else [])
        return subprocess.run(args, cwd=ROOT, env=env).returncode
    finally:
        if not keep:
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


# --- inside the bench database ----------------------------------------------------------


def load(shape: Shape, out) -> dict:
    """Users, boards, rooms and memberships with the ORM (small); messages, mentions and index
    rows with set-based SQL (large). Returns the reader and the names the queries use."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from accounts.models import Membership
    from accounts.org_services import create_organization
    from kanban.models import Board
    from messaging.models import ChatMessage, ChatRoom
    from search.models import SearchDocument

    User = get_user_model()
    started = time.perf_counter()
    with transaction.atomic():
        users = User.objects.bulk_create(
            User(username=f"user{i}", password="!") for i in range(shape.users)
        )
        reader = User.objects.create(username="reader", password="!")
        organization = create_organization(name="Bench", created_by=users[0])
        Membership.objects.bulk_create(
            Membership(organization=organization, user=user) for user in [*users[1:], reader]
        )
        boards = Board.objects.bulk_create(
            Board(name=f"Board {i}", created_by=users[0], organization=organization)
            for i in range(shape.rooms // shape.rooms_per_board)
        )
        readable_boards = boards[: shape.readable_rooms // shape.rooms_per_board]
        Board.members.through.objects.bulk_create(
            [Board.members.through(board_id=b.pk, user_id=u.pk) for b in boards for u in users[:20]]
            + [Board.members.through(board_id=b.pk, user_id=reader.pk) for b in readable_boards]
        )
        per_board = shape.rooms_per_board
        rooms = ChatRoom.objects.bulk_create(
            ChatRoom(board=boards[i // per_board], name=f"room-{i}", created_by=users[0])
            for i in range(shape.rooms)
        )
        readable = [r for r in rooms if r.board_id in {b.pk for b in readable_boards}]
        ChatRoom.members.through.objects.bulk_create(
            ChatRoom.members.through(chatroom_id=r.pk, user_id=reader.pk) for r in readable
        )
    words = vocabulary(shape.vocabulary)
    room_ids = [r.pk for r in rooms]
    user_ids = [u.pk for u in users]
    # A word of rank r is drawn with probability ~ 1/r (Zipf): exp(random() * ln(N)).
    word = f"words[1 + floor(exp(random() * ln({len(words)})))::int - 1]"
    content = " || ' ' || ".join([word] * shape.words_per_message)
    message_table = ChatMessage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute("SET synchronous_commit = off")
        out.write(f"loading {shape.messages:,} messages\n")
        out.flush()
        cursor.execute(
            f"""
            INSERT INTO {message_table}
                (chat_room_id, author_id, content, html, created_at, client_id,
                 mentions_notified_at, reply_count, is_edited, is_deleted, seq)
            SELECT s.room, s.author, s.content, '<p>' || s.content || '</p>', s.created_at, '',
                   now(), 0, false, false, s.g
            FROM (
                SELECT g,
                       rooms[1 + (g * 7919) %% cardinality(rooms)] AS room,
                       users[1 + floor(random() * cardinality(users))::int] AS author,
                       {content} AS content,
                       now() - make_interval(secs => (%s - g) * 30) AS created_at
                FROM generate_series(1::bigint, %s::bigint) AS g,
                     (SELECT %s::bigint[] AS rooms, %s::bigint[] AS users, %s::text[] AS words) AS v
            ) AS s
            """,
            [shape.messages, shape.messages, room_ids, user_ids, words],
        )
        # Each message's seq is its row number (rising in every room): the rooms' counters
        # must be at least their latest message's, as the posting service keeps them.
        cursor.execute(
            f"""
            UPDATE {ChatRoom._meta.db_table} r SET last_seq = m.top
            FROM (SELECT chat_room_id, max(seq) AS top FROM {message_table}
                  GROUP BY chat_room_id) m
            WHERE r.id = m.chat_room_id
            """
        )
        # 1 in 200 messages in the reader's rooms mentions the reader (for is:mention).
        through = ChatMessage.mentioned_users.through._meta.db_table
        cursor.execute(
            f"""
            INSERT INTO {through} (chatmessage_id, user_id)
            SELECT id, %s FROM {message_table}
            WHERE chat_room_id = ANY(%s) AND id %% 200 = 0
            """,
            [reader.pk, [r.pk for r in readable]],
        )
        out.write("building the search index rows (to_tsvector)\n")
        out.flush()
        table = SearchDocument._meta.db_table
        cursor.execute("DROP INDEX search_vector_gin")
        cursor.execute(
            f"""
            INSERT INTO {table} (kind, object_id, message_id, room_id, board_id, author_id,
                                 created_at, text, has_attachments, indexed_at, search_vector)
            SELECT 'message', m.id, m.id, m.chat_room_id, r.board_id, m.author_id,
                   m.created_at, m.content, false, now(),
                   to_tsvector(%s::regconfig, m.content)
            FROM {message_table} m JOIN {ChatRoom._meta.db_table} r ON r.id = m.chat_room_id
            """,
            [shape_language()],
        )
        out.write("creating the GIN index\n")
        out.flush()
        cursor.execute(f"CREATE INDEX search_vector_gin ON {table} USING gin (search_vector)")
        cursor.execute(f"ANALYZE {table}")
        cursor.execute(f"ANALYZE {message_table}")
        cursor.execute(f"ANALYZE {through}")
        cursor.execute(f"SELECT pg_size_pretty(pg_total_relation_size('{table}'))")
        size = cursor.fetchone()[0]
    elapsed = time.perf_counter() - started
    out.write(f"loaded in {elapsed:.0f} s; index table with its indexes: {size}\n\n")
    return {
        "reader": reader,
        "words": words,
        "readable_rooms": [r.name for r in readable],
        "authors": [u.username for u in users[:20]],
        "load_seconds": elapsed,
        "size": size,
    }


def existing(shape: Shape, out) -> dict:
    """The names `load` returned, read back from a kept bench database (--reuse)."""
    from django.contrib.auth import get_user_model

    from messaging.access import readable_rooms

    reader = get_user_model().objects.get(username="reader")
    out.write("reusing the loaded bench database\n\n")
    return {
        "reader": reader,
        "words": vocabulary(shape.vocabulary),
        "readable_rooms": list(readable_rooms(reader).values_list("name", flat=True)),
        "authors": [f"user{i}" for i in range(20)],
    }


def shape_language() -> str:
    from django.conf import settings

    return settings.SEARCH_LANGUAGE


def queries(data: dict, shape: Shape) -> dict[str, list[str]]:
    """Query texts per kind, varied so no single cached plan or page answers them all."""
    rng = random.Random(11)
    words = data["words"]

    def mid_word() -> str:  # ranks 5..1000: from very common to fairly rare
        return words[round(5 * (200 ** rng.random()))]

    n = shape.iterations
    return {
        "two words, relevance": [f"{mid_word()} {mid_word()}" for _ in range(n)],
        "two words, newest": [f"{mid_word()} {mid_word()}" for _ in range(n)],
        "phrase": [f'"{mid_word()} {mid_word()}"' for _ in range(n)],
        "filter only: from:@user": [f"from:@{rng.choice(data['authors'])}" for _ in range(n)],
        "filter only: in:#room": [f"in:#{rng.choice(data['readable_rooms'])}" for _ in range(n)],
        "filter only: after:date": ["after:" + _days_ago(rng.randint(1, 30)) for _ in range(n)],
        "filter only: is:mention": ["is:mention" for _ in range(n)],
    }


def _days_ago(days: int) -> str:
    import datetime

    return (datetime.date.today() - datetime.timedelta(days=days)).isoformat()


def measure(data: dict, shape: Shape, out) -> list[tuple[str, float, float, float, int]]:
    from search.query import parse
    from search.selectors import search_for

    reader = data["reader"]
    rows = []
    for kind, texts in queries(data, shape).items():
        order = "newest" if kind.endswith("newest") else None
        for text in texts[:3]:  # warm-up
            search_for(reader, parse(text), order=order)
        timings, found = [], 0
        for text in texts:
            started = time.perf_counter()
            page = search_for(reader, parse(text), order=order)
            timings.append((time.perf_counter() - started) * 1000)
            found += len(page.results)
        timings.sort()
        p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
        rows.append((kind, statistics.median(timings), p95, timings[-1], found // len(texts)))
    return rows


def explain(data: dict, out) -> dict[str, bool]:
    """EXPLAIN ANALYZE of one query per kind; whether the GIN index served the text match."""
    from django.db import connection

    from search import engine
    from search.query import parse
    from search.selectors import default_order, resolve_filters, scope_for

    reader = data["reader"]
    words = data["words"]
    checks = {}
    for label, text, order in (
        ("two words", f"{words[30]} {words[200]}", None),
        ("two common words", f"{words[6]} {words[12]}", None),
        ("two words, newest", f"{words[30]} {words[200]}", engine.NEWEST),
        ("filter only (from:@user)", f"from:@{data['authors'][3]}", None),
        ("filter only (in:#room)", f"in:#{data['readable_rooms'][0]}", None),
        ("filter only (is:mention)", "is:mention", None),
    ):
        query = parse(text)
        scope = scope_for(reader)
        filters, _ = resolve_filters(query, scope, None)
        sql, params = engine.search_sql(
            query, scope, filters, order=order or default_order(query), after=None, limit=21
        )
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        out.write(f"EXPLAIN ANALYZE: {label}: {text}\n{plan}\n\n")
        checks[label] = "search_vector_gin" in plan
    return checks


def run_in_db(shape: Shape, out=sys.stdout, *, reuse: bool = False) -> int:
    from django.db import connection

    if connection.vendor != "postgresql":
        out.write("bench_search needs PostgreSQL (DATABASE_URL=postgres://...)\n")
        return 2
    data = existing(shape, out) if reuse else load(shape, out)
    checks = explain(data, out)
    rows = measure(data, shape, out)
    out.write(
        f"search over {shape.messages:,} messages in {shape.rooms:,} rooms; the reader can read "
        f"{shape.readable_rooms} rooms; {shape.iterations} queries per kind, end to end through "
        "search_for (scope, query, snippets, authors, rooms); target p95 < 100 ms\n\n"
    )
    out.write(f"{'query':<28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'results':>8}  verdict\n")
    failed = False
    for kind, p50, p95, worst, found in rows:
        verdict = "ok" if p95 < TARGET_P95_MS else "OVER TARGET"
        headline = kind in ("two words, relevance", "filter only: from:@user")
        failed |= p95 >= TARGET_P95_MS and headline
        out.write(f"{kind:<28} {p50:8.1f} {p95:8.1f} {worst:8.1f} {found:8d}  {verdict}\n")
    out.write("\n")
    gin = checks["two words"]
    out.write(f"GIN index used for the two-word query: {'yes' if gin else 'NO'}\n")
    return 1 if failed or not gin else 0

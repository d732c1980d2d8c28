"""`manage.py bench_search` (`make bench-search`): the search benchmark on PostgreSQL.

Creates its own database on the server DATABASE_URL names (or the local one), loads
1,000,000 messages, times the search path and prints the figures and query plans. The work
is in `bench/search.py`."""

from __future__ import annotations

import re

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench import search as bench_search


class Command(BaseCommand):
    help = "Benchmark search: 1,000,000 messages in 1,000 rooms, a reader of 50 (PostgreSQL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--pg-url", help="PostgreSQL server (default: DATABASE_URL's)")
        parser.add_argument(
            "--db-name",
            default=bench_search.DB_NAME,
            help=f"the bench database to create and drop (default {bench_search.DB_NAME})",
        )
        parser.add_argument("--messages", type=int, default=1_000_000)
        parser.add_argument("--iterations", type=int, default=60, help="queries per kind")
        parser.add_argument("--keep", action="store_true", help="keep the bench database")
        parser.add_argument(
            "--reuse", action="store_true", help="measure a database kept by --keep (no load)"
        )
        parser.add_argument("--in-db", action="store_true", help="internal: run in this database")

    def handle(self, *args, **options) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", options["db_name"]):
            raise CommandError("--db-name: lower-case letters, digits and _ only")
        if options["messages"] < 1000 or options["iterations"] < 1:
            raise CommandError("--messages must be at least 1000 and --iterations at least 1")
        shape = bench_search.Shape(messages=options["messages"], iterations=options["iterations"])
        if options["in_db"]:
            code = bench_search.run_in_db(shape, out=self.stdout, reuse=options["reuse"])
        else:
            code = bench_search.run(
                server_url=options["pg_url"],
                keep=options["keep"] or options["reuse"],
                reuse=options["reuse"],
                shape=shape,
                db_name=options["db_name"],
                out=self.stdout,
            )
        if code:
            raise SystemExit(code)

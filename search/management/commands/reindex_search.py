"""`manage.py reindex_search`: rebuild the search index from scratch, with a progress bar.

Safe while people post (see search.indexing). Run it after an upgrade that adds search to an
existing installation, or after changing SEARCH_LANGUAGE."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from search.indexing import rebuild

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Rebuild the search index from every message, comment and task."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size: int, **options) -> None:
        last_line = {"label": None}

        def progress(label: str, done: int, total: int) -> None:
            if last_line["label"] not in (None, label):
                self.stdout.write("")
            last_line["label"] = label
            share = done / total if total else 1.0
            filled = int(BAR_WIDTH * share)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self.stdout.write(f"\r{label:<9} [{bar}] {share:4.0%} {done:,}/{total:,}", ending="")
            self.stdout.flush()

        removed = rebuild(batch_size=max(1, batch_size), progress=progress)
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(f"Search index rebuilt ({removed:,} stale rows removed).")
        )

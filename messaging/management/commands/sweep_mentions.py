"""`python manage.py sweep_mentions`: create mention notifications a dead broker or worker lost
(what Celery beat runs every minute), e.g. from cron when no beat is deployed."""

from django.core.management.base import BaseCommand, CommandParser

from messaging.services import notifications


class Command(BaseCommand):
    help = "Create the mention notifications still owed for older messages and comments."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=30,
            metavar="SECONDS",
            help="grace period: skip targets younger than this (default 30)",
        )
        parser.add_argument(
            "--limit", type=int, default=500, help="most targets to process (default 500)"
        )

    def handle(self, *args, older_than: int, limit: int, **options) -> None:
        created = notifications.sweep_missed_mentions(older_than_seconds=older_than, limit=limit)
        self.stdout.write(f"Created {created} mention notification(s).")

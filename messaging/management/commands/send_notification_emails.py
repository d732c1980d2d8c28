"""`python manage.py send_notification_emails`: one run of what Celery beat runs every minute
(issue 11): e-mail people about the notifications they have not read, at most once each. For
the embedded mode (no beat) from cron, or by hand."""

from django.core.management.base import BaseCommand, CommandParser

from messaging.services import email


class Command(BaseCommand):
    help = "E-mail unread direct messages, mentions, replies and assignments (at most once each)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--limit", type=int, default=1000, help="most notifications per run (default 1000)"
        )

    def handle(self, *args, limit: int, **options) -> None:
        sent = email.send_notification_emails(limit=limit)
        self.stdout.write(f"Sent {sent} e-mail(s).")

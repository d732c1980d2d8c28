"""Create the attachments bucket in the S3-compatible object store if it is missing (issue 12).

`make run-scaled` and docker-compose run it after the store starts; it waits (polling, at most
--timeout seconds) for the store to answer. Without ATTACHMENT_S3_BUCKET it does nothing."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the attachments bucket (ATTACHMENT_S3_BUCKET) if it does not exist."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--timeout", type=float, default=60.0)

    def handle(self, *args, timeout: float, **options) -> None:
        bucket = settings.ATTACHMENT_S3_BUCKET
        if not bucket:
            self.stdout.write("ATTACHMENT_S3_BUCKET is not set: files are stored under MEDIA_ROOT.")
            return
        client = default_storage.connection.meta.client
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.head_bucket(Bucket=bucket)
                self.stdout.write(f"bucket {bucket} is ready")
                return
            except Exception as exc:
                code = getattr(exc, "response", {}).get("Error", {}).get("Code")
                try:
                    if code in ("404", "NoSuchBucket"):
                        client.create_bucket(Bucket=bucket)
                        continue
                except Exception as create_error:
                    exc = create_error
                if time.monotonic() > deadline:
                    raise CommandError(f"object store not ready for {bucket}: {exc!r}") from exc
                time.sleep(0.5)

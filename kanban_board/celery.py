"""The Celery application. Configuration comes from Django settings (CELERY_* names)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kanban_board.settings")

app = Celery("kanban_board")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# --- metrics (kanban_board.metrics): task run times and failures in whichever process runs
# the task; a worker serves its own on CELERY_METRICS_PORT.
@signals.import_modules.connect(weak=False)
def _connect_metrics(**_) -> None:
    from kanban_board import metrics

    metrics.connect_celery_signals()


@signals.worker_ready.connect(weak=False)
def _worker_exporter(**_) -> None:
    port = int(os.environ.get("CELERY_METRICS_PORT") or 0)
    if port:
        from kanban_board import metrics

        metrics.start_worker_exporter(port, os.environ.get("CELERY_METRICS_ADDR", "127.0.0.1"))

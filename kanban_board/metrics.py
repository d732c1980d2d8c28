"""Prometheus metrics: every instrument, the hooks that feed them, and `GET /metrics`.

Each process exports its own numbers (one daphne = one scrape target; Prometheus sums across
them). Call sites elsewhere are one line each, at the edges:

* WebSockets: `WebSocketMetrics` wraps the whole WebSocket stack in kanban_board/asgi.py and
  reads the ASGI messages going by (open sockets per consumer, frames in and out by type,
  error frames, closes by code, handshakes refused, consumer crashes). No consumer code
  knows about it.
* HTTP: `http_metrics_middleware` (first in MIDDLEWARE): requests by view name and status.
* Channel layer: `messaging.layers.note_layer_failure` counts failures; a socket the server
  closes with 1000 after it was accepted is a resync (messaging.consumers.base.RESYNC).
* Services: `timed_post` around the posting services, `broadcast_done` in
  `realtime.broadcast_on_commit`, `mention_notifications_created` in the mention service.
* Celery: `connect_celery_signals` (task runtimes, failures, soft-time-limit hits), and a
  worker's own exporter (`start_worker_exporter`, CELERY_METRICS_PORT).
* E-mail: `MeteredEmailBackend` wraps the configured backend (sent / failed).

`GET /metrics` answers only a request with `Authorization: Bearer <METRICS_TOKEN>` or from an
address in METRICS_ALLOWED_IPS; anything else gets a 404 like any unknown URL.
"""

from __future__ import annotations

import functools
import hmac
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.mail.backends.base import BaseEmailBackend
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# --- instruments ------------------------------------------------------------------------

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)

SOCKETS_OPEN = Gauge("taskflow_websocket_open", "WebSockets open now, per consumer", ["consumer"])
SOCKETS_ACCEPTED = Counter(
    "taskflow_websocket_accepted_total", "WebSocket handshakes accepted", ["consumer"]
)
SOCKETS_REFUSED = Counter(
    "taskflow_websocket_refused_total",
    "WebSocket handshakes refused (no session, no access, foreign Origin, layer down)",
    ["consumer"],
)
FRAMES_IN = Counter(
    "taskflow_websocket_frames_in_total", "Client frames received, by type", ["consumer", "type"]
)
FRAMES_OUT = Counter(
    "taskflow_websocket_frames_out_total", "Frames sent to clients, by type", ["consumer", "type"]
)
ERROR_FRAMES = Counter(
    "taskflow_websocket_error_frames_total",
    'Error frames sent ({"type": "error"}), by code ("none" when the frame has no code)',
    ["consumer", "code"],
)
CLOSES = Counter(
    "taskflow_websocket_closes_total",
    "Accepted sockets closed, by close code and by whom (server or client)",
    ["consumer", "code", "by"],
)
RESYNCS = Counter(
    "taskflow_websocket_resyncs_total",
    "Sockets the server closed for a resync (a layer failure or a lost group membership)",
    ["consumer"],
)
CONSUMER_CRASHES = Counter(
    "taskflow_websocket_consumer_crashes_total",
    "Exceptions that escaped a consumer (daphne closes such a socket with 1011)",
    ["consumer"],
)
LAYER_FAILURES = Counter(
    "taskflow_channel_layer_failures_total",
    "Channel-layer calls that failed in this process (receive, group_send, subscribe)",
)
POST_SECONDS = Histogram(
    "taskflow_message_post_seconds",
    "Posting a chat message or comment: the service call, commit and broadcast included",
    ["kind"],
    buckets=LATENCY_BUCKETS,
)
BROADCAST_SECONDS = Histogram(
    "taskflow_broadcast_on_commit_seconds",
    "From scheduling a broadcast (inside the transaction) to its group_send returning",
    ["outcome"],
    buckets=LATENCY_BUCKETS,
)
MENTION_LAG_SECONDS = Histogram(
    "taskflow_mention_notification_lag_seconds",
    "From a message or comment being posted to its mention notification rows existing",
    buckets=LAG_BUCKETS,
)
TASK_SECONDS = Histogram(
    "taskflow_celery_task_seconds", "Celery task run time", ["task"], buckets=LATENCY_BUCKETS
)
TASK_FAILURES = Counter(
    "taskflow_celery_task_failures_total",
    "Celery tasks that raised (reason: the exception class; SoftTimeLimitExceeded included)",
    ["task", "reason"],
)
EMAILS = Counter("taskflow_emails_total", "E-mails handed to the backend", ["outcome"])
HTTP_REQUESTS = Counter(
    "taskflow_http_requests_total",
    "HTTP requests, by URL name and status",
    ["view", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "taskflow_http_request_seconds", "HTTP response time", ["view"], buckets=LATENCY_BUCKETS
)


# --- WebSockets (an ASGI wrapper) -------------------------------------------------------

# Bounded label values: anything else is "other" (a client can send any "type").
CONSUMERS = frozenset({"chat-room", "task-comments", "notifications"})
FRAME_TYPES = frozenset(
    {
        "chat_message", "comment", "typing", "stop_typing", "ack", "error", "new_comment",
        "user_typing", "user_stop_typing", "user_join", "user_leave", "notification",
        "unread_count", "mark_read",
    }
)  # fmt: skip
ERROR_CODES = frozenset({"rate_limited", "access_gone", "none"})
RESYNC_CODE = 1000  # messaging.consumers.base.RESYNC
_TYPE = re.compile(r'"type"\s*:\s*"([a-z_]{1,32})"')
_CODE = re.compile(r'"code"\s*:\s*"([a-z_]{1,32})"')


def consumer_label(path: str) -> str:
    """ "/ws/chat-room/7/" -> "chat-room"."""
    parts = path.strip("/").split("/")
    name = parts[1] if len(parts) > 1 and parts[0] == "ws" else ""
    return name if name in CONSUMERS else "other"


def frame_type(text: str | None) -> str:
    """The frame's "type", read without parsing the JSON (our frames put it first)."""
    if not text:
        return "binary"
    match = _TYPE.search(text, 0, 200)
    if match is None:
        return "none"  # not JSON, or no "type" near the start
    return match.group(1) if match.group(1) in FRAME_TYPES else "other"


class WebSocketMetrics:
    """ASGI middleware around the WebSocket stack: counts what goes in and out."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        consumer = consumer_label(scope.get("path", ""))
        state = {"accepted": False, "closed_by_server": False}

        async def metered_receive() -> dict[str, Any]:
            message = await receive()
            kind = message["type"]
            if kind == "websocket.receive":
                FRAMES_IN.labels(consumer, frame_type(message.get("text"))).inc()
            elif (
                kind == "websocket.disconnect"
                and state["accepted"]
                and not state["closed_by_server"]
            ):
                CLOSES.labels(consumer, str(message.get("code", 1005)), "client").inc()
            return message

        async def metered_send(message: dict[str, Any]) -> None:
            kind = message["type"]
            if kind == "websocket.send":
                sent = frame_type(message.get("text"))
                FRAMES_OUT.labels(consumer, sent).inc()
                if sent == "error":
                    match = _CODE.search(message.get("text") or "")
                    code = match.group(1) if match else "none"
                    ERROR_FRAMES.labels(consumer, code if code in ERROR_CODES else "other").inc()
            elif kind == "websocket.accept" and not state["accepted"]:
                state["accepted"] = True
                SOCKETS_ACCEPTED.labels(consumer).inc()
                SOCKETS_OPEN.labels(consumer).inc()
            elif kind == "websocket.close":
                if not state["accepted"]:
                    SOCKETS_REFUSED.labels(consumer).inc()
                elif not state["closed_by_server"]:
                    state["closed_by_server"] = True
                    code = message.get("code") or 1000
                    CLOSES.labels(consumer, str(code), "server").inc()
                    if code == RESYNC_CODE:
                        RESYNCS.labels(consumer).inc()
            await send(message)

        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, metered_receive, metered_send)
        except Exception:
            CONSUMER_CRASHES.labels(consumer).inc()
            raise
        finally:
            if state["accepted"]:
                SOCKETS_OPEN.labels(consumer).dec()


# --- HTTP -------------------------------------------------------------------------------


def _observe_request(request: HttpRequest, response: HttpResponse, started: float) -> None:
    match = getattr(request, "resolver_match", None)
    if match is not None:
        view = match.view_name
    elif request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        view = "static"
    else:
        view = "unmatched"
    method = request.method if request.method in ("GET", "POST", "HEAD") else "other"
    HTTP_REQUESTS.labels(view, method, str(response.status_code)).inc()
    HTTP_SECONDS.labels(view).observe(time.perf_counter() - started)


def http_metrics_middleware(get_response: Callable) -> Callable:
    """Requests by view and status (first in MIDDLEWARE, so static files and every
    middleware's own answers count too). Sync and async, so daphne needs no thread hop."""
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            started = time.perf_counter()
            response = await get_response(request)
            _observe_request(request, response, started)
            return response

        return markcoroutinefunction(middleware)

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = get_response(request)
        _observe_request(request, response, started)
        return response

    return sync_middleware


http_metrics_middleware.sync_capable = True  # type: ignore[attr-defined]
http_metrics_middleware.async_capable = True  # type: ignore[attr-defined]


# --- services ---------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


def timed_post(kind: str) -> Callable[[F], F]:
    """Decorator for a posting service: its whole call (commit and broadcast included)."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with POST_SECONDS.labels(kind).time():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def broadcast_done(scheduled_at: float, ok: bool) -> bool:
    """Record an on-commit broadcast that was scheduled at `scheduled_at` (perf_counter)."""
    outcome = "sent" if ok else "failed"
    BROADCAST_SECONDS.labels(outcome).observe(time.perf_counter() - scheduled_at)
    return ok


def mention_notifications_created(posted_at: datetime, count: int) -> None:
    """`count` mention notifications now exist for something posted at `posted_at`."""
    lag = max(0.0, (timezone.now() - posted_at).total_seconds())
    for _ in range(count):
        MENTION_LAG_SECONDS.observe(lag)


# --- Celery -----------------------------------------------------------------------------

_task_started: dict[str, float] = {}


def connect_celery_signals() -> None:
    """Task run time and failures, in whichever process runs the task (a worker, or the web
    process itself when tasks run eagerly). Idempotent; runs when this module is imported."""
    from celery import signals

    @signals.task_prerun.connect(weak=False, dispatch_uid="taskflow-metrics-prerun")
    def started(task_id: str | None = None, **_: Any) -> None:
        if task_id:
            _task_started[task_id] = time.perf_counter()

    @signals.task_postrun.connect(weak=False, dispatch_uid="taskflow-metrics-postrun")
    def finished(task_id: str | None = None, task: Any = None, **_: Any) -> None:
        began = _task_started.pop(task_id, None) if task_id else None
        if began is not None and task is not None:
            TASK_SECONDS.labels(task.name).observe(time.perf_counter() - began)

    @signals.task_failure.connect(weak=False, dispatch_uid="taskflow-metrics-failure")
    def failed(sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
        name = getattr(sender, "name", "unknown")
        TASK_FAILURES.labels(name, type(exception).__name__ if exception else "unknown").inc()


connect_celery_signals()


def start_worker_exporter(port: int, addr: str = "127.0.0.1") -> None:
    """Serve this worker's metrics on `addr:port` (a worker has no Django HTTP server). With
    the prefork pool set PROMETHEUS_MULTIPROC_DIR so the pool children's numbers are summed."""
    import os

    from prometheus_client import start_http_server

    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(port, addr=addr, registry=registry)


# --- e-mail -----------------------------------------------------------------------------


class MeteredEmailBackend(BaseEmailBackend):
    """Delegates to EMAIL_DELIVERY_BACKEND and counts sent and failed messages."""

    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently)
        backend = import_string(settings.EMAIL_DELIVERY_BACKEND)
        self.inner = backend(fail_silently=fail_silently, **kwargs)

    def open(self):
        return self.inner.open()

    def close(self) -> None:
        self.inner.close()

    def send_messages(self, email_messages) -> int:
        messages = list(email_messages)
        try:
            sent = self.inner.send_messages(messages) or 0
        except Exception:
            EMAILS.labels("failed").inc(len(messages))
            raise
        EMAILS.labels("sent").inc(sent)
        EMAILS.labels("failed").inc(len(messages) - sent)
        return sent


# --- GET /metrics -----------------------------------------------------------------------


def scrape_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
    return request.META.get("REMOTE_ADDR", "") in settings.METRICS_ALLOWED_IPS


@login_not_required
@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """This process's metrics in the Prometheus text format, for the scraper only."""
    if not scrape_allowed(request):
        raise Http404
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)

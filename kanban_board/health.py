"""GET /healthz: reachability of the database, the channel layer and the Celery broker."""

import asyncio
import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .celery import app as celery_app

LAYER_TIMEOUT_SECONDS = 3


def _check(fn) -> dict:
    started = time.perf_counter()
    try:
        detail = fn()
    except Exception as exc:  # any failure is the report
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    result = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    if detail:
        result["backend"] = detail
    return result


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


async def _layer_round_trip() -> None:
    """Send a ping through the layer to a fresh channel and read it back, bounded in time so a
    dead, paused or sharded layer reports a failure instead of hanging the probe."""
    layer = get_channel_layer()

    async def round_trip() -> None:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "healthz.ping", "id": uuid.uuid4().hex})
        await layer.receive(channel)

    await asyncio.wait_for(round_trip(), timeout=LAYER_TIMEOUT_SECONDS)


def _channel_layer() -> str:
    async_to_sync(_layer_round_trip)()
    return type(get_channel_layer()).__name__


def _broker() -> str:
    if celery_app.conf.task_always_eager:
        return "eager (in-process)"
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return conn.transport_cls if isinstance(conn.transport_cls, str) else "broker"


@login_not_required
@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": _check(_database),
        "channel_layer": _check(_channel_layer),
        "broker": _check(_broker),
    }
    ok = all(c["ok"] for c in checks.values())
    if not request.user.is_staff:
        # Anyone may probe (load balancers are anonymous), but error texts and backends can
        # name hosts, users and databases: only staff see them.
        checks = {name: {"ok": c["ok"], "ms": c.get("ms")} for name, c in checks.items()}
    return JsonResponse({"ok": ok, **checks}, status=200 if ok else 503)

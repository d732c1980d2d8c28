"""The measurements beside the rate sweeps: idle cost of many sockets, the mention path
(HTTP post -> Celery -> notification frame) and history paging at 100k rows. Each takes the
running Bench (its servers, client pool, database and output)."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import math
import re
import secrets
import string
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from . import report
from .config import TARGET_TITLES, route_exists
from .report import fmt
from .servers import CpuMeter, ServerProcess, baseline_app, celery_worker, our_app, rss_kib

if TYPE_CHECKING:
    from .scenarios import Bench


# --- idle cost ----------------------------------------------------------------------


def idle(bench: Bench) -> None:
    cfg = bench.cfg
    out: dict[str, Any] = {}
    bench.results["idle"] = out
    targets = ["ours"] if cfg.quick else ["ours", "bare"]
    for target in targets:
        if target == "ours" and not route_exists("ws/chat-room/"):
            out[target] = {"error": "not measured: no ws/chat-room/ route"}
            continue
        out[target] = _idle_one(bench, target)
        bench.stop_servers()


def _idle_one(bench: Bench, target: str) -> dict[str, Any]:
    cfg = bench.cfg
    n = cfg.idle_clients
    bench.redis.flush()
    if target == "ours":
        server = our_app(bench.env)
        rooms = bench.fixtures["idle_rooms"]
        port_urls = lambda port: [  # noqa: E731
            f"ws://127.0.0.1:{port}/ws/chat-room/{rooms[i // cfg.idle_room_size]}/"
            for i in range(n)
        ]
        headers = bench.session_headers(bench.fixtures["users"][:n])
    else:
        server = baseline_app(bench.env, "redis")
        port_urls = lambda port: [  # noqa: E731
            f"ws://127.0.0.1:{port}/ws/bare/idle{i // cfg.idle_room_size}/" for i in range(n)
        ]
        headers = [{}] * n
    bench.start_server(server)
    origin = f"http://127.0.0.1:{server.port}"
    urls = port_urls(server.port)
    # Warm up: import and initialise whatever the first connection loads lazily.
    bench.connect_clients("idle", urls[:1], headers[:1], origin)
    bench.close_clients()
    bench.quiesce()
    time.sleep(1.0)
    rss0 = rss_kib(server.pid)
    opened, secs, errors = bench.connect_clients("idle", urls, headers, origin)
    _late, _quiet = bench.quiesce(quiet_for=1.0, max_wait=60)
    time.sleep(1.0)
    rss1 = rss_kib(server.pid)
    meter = CpuMeter(server.pid)
    time.sleep(cfg.idle_seconds)
    cpu = meter.read()
    closed = bench.close_clients()
    per_conn = (rss1 - rss0) / opened if opened else math.nan
    result = {
        "clients": n,
        "opened": opened,
        "connect_s": secs,
        "connect_errors": errors,
        "room_size": cfg.idle_room_size,
        "rss_before_kib": rss0,
        "rss_after_kib": rss1,
        "rss_per_connection_kib": per_conn,
        "idle_cpu_percent": cpu,
        "idle_seconds": cfg.idle_seconds,
        "closed_by_server": closed,
    }
    bench.emit("")
    bench.emit(
        f"== idle cost, {TARGET_TITLES['ours' if target == 'ours' else 'bare']}: {opened}/{n} "
        f"sockets (rooms of {cfg.idle_room_size}) connected in {secs:.1f}s "
        f"({opened / secs if secs else 0:.0f}/s)" + (f", errors {errors}" if errors else "")
    )
    bench.emit(
        f"   daphne RSS {rss0 / 1024:.1f} MiB -> {rss1 / 1024:.1f} MiB: "
        f"{fmt(per_conn, 1)} KiB per connection; idle CPU {fmt(cpu, 2)}% of one core over "
        f"{cfg.idle_seconds:g}s"
    )
    return result


# --- mention path -------------------------------------------------------------------


def mention(bench: Bench) -> None:
    cfg = bench.cfg
    out: dict[str, Any] = {}
    bench.results["mention"] = out
    room = bench.fixtures["rooms"]["mention"]
    send_path = f"/messaging/room/{room}/send/"
    missing = []
    if not path_resolves(send_path):
        missing.append(f"POST {send_path} is not routed")
    if not route_exists("ws/notifications/"):
        missing.append("ws/notifications/ is not in messaging/routing.py")
    if missing:
        out["error"] = "not measured: " + "; ".join(missing)
        bench.emit("")
        bench.emit(f"== mention path: {out['error']}")
        return
    bench.redis.flush()
    server = bench.start_server(our_app(bench.env))
    worker = celery_worker(bench.env)
    bench.start_server(worker, ready_line=" ready.", timeout=60)
    profiler, raw = bench.start_profiler("mention", server)
    out.update(asyncio.run(_mention_run(bench, server, send_path)))
    if profiler is not None and raw is not None:
        bench.stop_profiler(profiler, raw, "over the mention run")
    out["logs"] = [str(server.log_path), str(worker.log_path)]
    runtimes = sorted(
        float(m) * 1000
        for m in re.findall(r"notify_mentions\[[^\]]+\] succeeded in ([0-9.]+)s", worker.log_text())
    )
    out["task_p50"] = report.percentile(runtimes, 50)
    out["task_p99"] = report.percentile(runtimes, 99)
    if out.get("unmatched_ids"):
        contents = bench.db.task(bench.env, "notifications", {"ids": out["unmatched_ids"]})
        out["db_matched"] = contents["contents"]
    bench.emit("")
    if out.get("error"):
        bench.emit(f"== mention path: {out['error']}")
        return
    bench.emit(
        f"== mention path (POST {send_path} '@bob ...' -> Celery -> bob's ws/notifications/ "
        f"frame) at {cfg.mention_rate:g} posts/s for {cfg.mention_seconds:g}s"
    )
    bench.emit(
        f"   posts {out['posts']} (HTTP {out['statuses']}), notification frames "
        f"{out['matched']}/{out['posts']}: p50 {fmt(out['p50'])} ms, p95 {fmt(out['p95'])} ms, "
        f"p99 {fmt(out['p99'])} ms, max {fmt(out['max'])} ms; of which the POST itself p50 "
        f"{fmt(out['post_p50'])} ms, p99 {fmt(out['post_p99'])} ms, and response -> frame "
        f"(Celery leg) p50 {fmt(out['after_post_p50'])} ms, p99 {fmt(out['after_post_p99'])} ms"
        f"; the notify_mentions task itself ran p50 {fmt(out['task_p50'])} ms, p99 "
        f"{fmt(out['task_p99'])} ms (worker log)"
    )
    if out["matched"] < out["posts"]:
        bench.emit(f"   reach {out['matched'] / out['posts']:.3f}: {out['missing_why']}")


async def _mention_run(bench: Bench, server: ServerProcess, send_path: str) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    cfg = bench.cfg
    origin = f"http://127.0.0.1:{server.port}"
    csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    alice_session = bench.fixtures["alice"][1]
    bob_session = bench.fixtures["bob"][1]
    frames: dict[int, int] = {}  # seq -> receive time ns
    unmatched: dict[int, int] = {}  # notification id -> receive time ns
    token = re.compile(r"bm(\d+)z")
    arrived = asyncio.Event()

    ws = await connect(
        f"ws://127.0.0.1:{server.port}/ws/notifications/",
        additional_headers={"Cookie": f"sessionid={bob_session}"},
        origin=origin,
        compression=None,
    )

    async def listen() -> None:
        async for text in ws:
            now = time.monotonic_ns()
            data = json.loads(text)
            if data.get("type") != "notification":
                continue
            m = token.search(data.get("text", ""))
            if m:
                frames[int(m.group(1))] = now
            else:
                unmatched[data.get("notification_id")] = now
            arrived.set()

    local = ThreadLocalHTTP("127.0.0.1", server.port)

    def post(seq: int) -> tuple[int, float]:
        body = urlencode({"content": f"@bob bm{seq}z from the bench", "client_id": f"m{seq}"})
        headers = {
            "Cookie": f"sessionid={alice_session}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
            "Origin": origin,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        t0 = time.perf_counter()
        status = local.request("POST", send_path, body, headers)
        return status, (time.perf_counter() - t0) * 1000

    listener = asyncio.create_task(listen())
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="bench-post")
    try:
        # Warm-up: three posts; the path must work end to end before we time it.
        for seq in range(3):
            status, _ = await loop.run_in_executor(pool, post, 100_000 + seq)
            if status >= 400:
                return {"error": f"not measured: warm-up POST answered HTTP {status}"}
        deadline = time.monotonic() + 15
        while len(frames) + len(unmatched) < 3 and time.monotonic() < deadline:
            arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), timeout=1)
        if not frames and not unmatched:
            return {
                "error": "not measured: no notification frame within 15 s of 3 warm-up "
                "posts (is the Celery worker consuming? see its log under .test-logs/bench/)"
            }
        frames.clear()
        unmatched.clear()

        n = round(cfg.mention_rate * cfg.mention_seconds)
        sent_at: dict[int, int] = {}
        futures = []
        t0 = time.monotonic_ns()
        for seq in range(n):
            target = t0 + int(seq * 1e9 / cfg.mention_rate)
            delay = (target - time.monotonic_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            sent_at[seq] = time.monotonic_ns()
            futures.append(loop.run_in_executor(pool, post, seq))
        results = await asyncio.gather(*futures)
        deadline = time.monotonic() + 10
        while len(frames) + len(unmatched) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        listener.cancel()
        await ws.close()
        pool.shutdown(wait=True)
        local.close()

    statuses = Counter(status for status, _ in results)
    lat = sorted((frames[s] - sent_at[s]) / 1e6 for s in frames if s in sent_at)
    post_ms = sorted(ms for _, ms in results)
    # The leg after the HTTP response: on-commit enqueue -> worker -> push -> socket.
    after = sorted(
        (frames[s] - sent_at[s]) / 1e6 - results[s][1] for s in frames if s < len(results)
    )
    failed_posts = sum(c for s, c in statuses.items() if s >= 400)
    why = []
    if failed_posts:
        why.append(f"{failed_posts} POSTs failed")
    if unmatched:
        why.append(f"{len(unmatched)} frames without the bench token in their text")
    missing = n - len(frames) - len(unmatched) - failed_posts
    if missing > 0:
        why.append(f"{missing} notifications did not arrive within 10 s of the last post")
    return {
        "posts": n,
        "statuses": dict(statuses),
        "matched": len(lat),
        "p50": report.percentile(lat, 50),
        "p95": report.percentile(lat, 95),
        "p99": report.percentile(lat, 99),
        "max": lat[-1] if lat else math.nan,
        "post_p50": report.percentile(post_ms, 50),
        "post_p99": report.percentile(post_ms, 99),
        "after_post_p50": report.percentile(after, 50),
        "after_post_p99": report.percentile(after, 99),
        "unmatched_ids": list(unmatched),
        "missing_why": "; ".join(why) or "-",
    }


# --- history paging -----------------------------------------------------------------


def history(bench: Bench) -> None:
    cfg = bench.cfg
    room = bench.fixtures["rooms"]["history"]
    out = bench.db.task(
        bench.env,
        "history",
        {"room": room, "rows": cfg.history_rows, "repeat": cfg.history_repeat, "warmup": 3},
    )
    bench.results["history"] = out
    bench.emit("")
    if out.get("error"):
        bench.emit(f"== history paging: not measured: {out['error']}")
        return
    bench.emit(
        f"== history paging ({out['url']}, {out['rows']:,} messages in the room, inserted "
        f"in {out['insert_s']:.1f}s; median of {out['repeat']} GETs, Django test client)"
    )
    bench.emit(
        f"   first page {out['first_ms']:.2f} ms (p95 {out['first_p95_ms']:.2f}), "
        f"deep page ?before={out['before']} {out['deep_ms']:.2f} ms (p95 "
        f"{out['deep_p95_ms']:.2f}); deep/first = {out['deep_ms'] / out['first_ms']:.2f}x; "
        f"{out['first_count']} and {out['deep_count']} messages, deep page older: "
        f"{out['deep_is_older'] and out['deep_ends_before']}"
    )


class ThreadLocalHTTP:
    """One keep-alive HTTP connection per posting thread."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.local = threading.local()
        self.all: list[http.client.HTTPConnection] = []

    def request(self, method: str, path: str, body: str, headers: dict[str, str]) -> int:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self.all.append(conn)
        try:
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            self.local.conn = None
            return 599
        return response.status

    def close(self) -> None:
        for conn in self.all:
            conn.close()


def path_resolves(path: str) -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve(path)
    except Resolver404:
        return False
    return True

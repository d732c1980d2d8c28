"""The benchmark run: targets, rate sweeps, idle cost, the mention path and history paging.

Targets, all measured in one run with the same client processes:

    raw      bench.raw_server: a bare `websockets` broadcast server (the Python ceiling)
    bare     bench.asgi_baseline on daphne, RedisChannelLayer (the app's layer settings)
    pubsub   the same consumer on RedisPubSubChannelLayer
    memory   the same consumer on InMemoryChannelLayer
    ours     kanban_board.asgi on daphne: ws/chat-room/<id>/ with sessions, origin check, DB

and the extra measurements `idle` (N idle sockets: CPU and RSS of daphne), `mention` (HTTP
post -> Celery -> notification frame) and `history` (first vs deep page at 100k rows).
Every child process dies in `finally`, whatever happens.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import http.client
import json
import math
import os
import re
import secrets
import shutil
import signal
import string
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from . import report
from .clients import ClientPool, split
from .db import BenchDatabase
from .report import StepResult, fmt, verdict
from .servers import (
    CpuMeter,
    MachineMeter,
    ServerProcess,
    base_env,
    baseline_app,
    celery_worker,
    cpu_seconds,
    our_app,
    raw_server,
    rss_kib,
)

SWEEP_TARGETS = ("raw", "bare", "bare-fwd", "pubsub", "memory", "ours", "ours-exp")
ALL_TARGETS = (*SWEEP_TARGETS, "idle", "mention", "history")
# Diagnostics, run on request (--only): ours-exp measures proposed consumer changes by
# monkeypatch, bare-fwd prices Channels' per-event connection clean-up hop.
DIAGNOSTIC_TARGETS = ("ours-exp", "bare-fwd")
DEFAULT_TARGETS = tuple(t for t in ALL_TARGETS if t not in DIAGNOSTIC_TARGETS)
QUICK_TARGETS = ("raw", "bare", "ours", "idle", "mention", "history")
NEEDS_DB = ("ours", "ours-exp", "idle", "mention", "history")
TARGET_TITLES = {
    "raw": "raw websockets broadcast server (bench/raw_server.py)",
    "bare": "bare Channels consumer, RedisChannelLayer (bench/asgi_baseline.py)",
    "bare-fwd": "DIAGNOSTIC: bare consumer, forward events skip aclose_old_connections",
    "pubsub": "bare Channels consumer, RedisPubSubChannelLayer",
    "memory": "bare Channels consumer, InMemoryChannelLayer",
    "ours": "our ChatRoomConsumer (ws/chat-room/<id>/: session auth, origin check, DB write)",
    "ours-exp": "EXPERIMENT: our consumer with the recommended changes monkeypatched in "
    "(bench/asgi_experiment.py)",
}


def default_redis_url() -> str:
    """BENCH_REDIS_URL, else REDIS_URL's server with DB BENCH_REDIS_DB (3): the bench empties
    its database, so it never takes the app's own."""
    if os.environ.get("BENCH_REDIS_URL"):
        return os.environ["BENCH_REDIS_URL"]
    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    db = os.environ.get("BENCH_REDIS_DB", "3")
    return urlunsplit(urlsplit(base)._replace(path=f"/{db}"))


def default_pg_url() -> str:
    """The PostgreSQL server named by DATABASE_URL, else the local one (trust auth)."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return url
    return "postgres://postgres@127.0.0.1:5432/postgres"


@dataclass
class Config:
    quick: bool = False
    clients: int = 100
    procs: int = 3
    steps: list[float] = field(default_factory=lambda: [5, 10, 20, 40, 80, 160, 320, 640])
    duration: float = 4.0  # seconds of sending per step
    warmup: float = 2.0
    drain: float = 3.0  # how long after the last send a delivery still counts
    echo_seconds: float = 8.0
    targets: list[str] = field(default_factory=lambda: list(DEFAULT_TARGETS))
    idle_clients: int = 1000
    idle_room_size: int = 10
    idle_seconds: float = 10.0
    mention_rate: float = 20.0
    mention_seconds: float = 8.0
    history_rows: int = 100_000
    history_repeat: int = 30
    p99_limit_ms: float = report.P99_LIMIT_MS
    stop_after_failures: int = 1  # steps past the knee before a sweep stops
    refine: int = 2  # extra steps bisecting between the knee and the next step
    redis_url: str = field(default_factory=lambda: default_redis_url())
    pg_url: str = field(default_factory=lambda: default_pg_url())
    db_name: str = "taskflow_bench"
    sqlite: bool = False
    keep_db: bool = False
    json_out: str | None = None
    profile_dir: str | None = None  # py-spy the daphne targets' rate sweeps into this folder
    experiment: str = "fwd,pool"  # patches for target ours-exp (bench/asgi_experiment.py)
    trace_dir: str | None = None  # run `ours` with per-stage timestamps (bench/asgi_trace.py)

    @classmethod
    def quick_defaults(cls) -> Config:
        return cls(
            quick=True,
            clients=20,
            procs=2,
            steps=[10, 40],
            duration=2.0,
            warmup=0.5,
            drain=2.0,
            echo_seconds=2.0,
            targets=list(QUICK_TARGETS),
            refine=0,
            idle_clients=200,
            idle_seconds=2.0,
            mention_seconds=2.0,
            history_rows=20_000,
            history_repeat=10,
        )


@dataclass
class SweepResult:
    target: str
    steps: list[StepResult] = field(default_factory=list)
    echo_p50: float = math.nan
    echo_p99: float = math.nan
    echo_n: int = 0
    light_p50: float = math.nan  # every delivery at 1 msg/s, not just the sender's own
    connect_s: float = math.nan
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    machine: dict[str, float] = field(default_factory=dict)

    @property
    def knee(self) -> StepResult | None:
        return report.find_knee(self.steps)

    @property
    def knee_rate(self) -> float | None:
        k = self.knee
        return k.deliveries_per_s if k else None

    @property
    def peak_rate(self) -> float | None:
        return max((s.deliveries_per_s for s in self.steps), default=None)

    def as_dict(self) -> dict:
        return {
            "target": self.target,
            "steps": [s.as_dict() for s in self.steps],
            "knee": self.knee.as_dict() if self.knee else None,
            "peak_deliveries_per_s": self.peak_rate,
            "echo_p50_ms": self.echo_p50,
            "echo_p99_ms": self.echo_p99,
            "echo_samples": self.echo_n,
            "light_load_p50_ms": self.light_p50,
            "connect_s": self.connect_s,
            "error": self.error,
            "notes": self.notes,
            "machine": self.machine,
        }


def _ms(raw: bytes) -> array.array:
    a = array.array("I")
    a.frombytes(raw)
    return a


class Bench:
    def __init__(self, cfg: Config, emit: Callable[[str], None]) -> None:
        self.cfg = cfg
        self.emit = emit
        self.pool: ClientPool | None = None
        self.servers: list[ServerProcess] = []
        self.db: BenchDatabase | None = None
        self.fixtures: dict[str, Any] = {}
        self.env: dict[str, str] = {}
        self.results: dict[str, Any] = {"config": asdict(cfg)}
        self.sweeps: dict[str, SweepResult] = {}
        self.cpu_mark: list[tuple[float, float]] = []  # (wall, cpu_s) per client process
        self.saved_before = 0  # chat messages already in the load room

    # --- the run ------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        previous = signal.signal(signal.SIGTERM, _raise_exit)
        try:
            self._prepare()
            for target in SWEEP_TARGETS:
                if target in self.cfg.targets:
                    self._guarded(target, lambda t=target: self.sweep(t))
            if "idle" in self.cfg.targets:
                self._guarded("idle", self.idle)
            if "mention" in self.cfg.targets:
                self._guarded("mention", self.mention)
            if "history" in self.cfg.targets:
                self._guarded("history", self.history)
            self.summary()
        finally:
            self._cleanup()
            signal.signal(signal.SIGTERM, previous)
        if self.cfg.json_out:
            with open(self.cfg.json_out, "w") as f:
                json.dump(_plain(self.results), f, indent=2)
            self.emit(f"JSON results: {self.cfg.json_out}")
        return self.results

    def _guarded(self, name: str, fn: Callable[[], Any]) -> None:
        """A failing scenario is reported and the run goes on to the next one."""
        try:
            fn()
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            self.emit(f"!! {name} failed: {type(exc).__name__}: {exc}")
            self.results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
            if name in self.sweeps:
                self.sweeps[name].error = str(exc)
        finally:
            self._stop_servers()

    def _prepare(self) -> None:
        cfg = self.cfg
        import redis

        self.redis = redis.Redis.from_url(cfg.redis_url, socket_connect_timeout=3)
        self.redis.ping()
        db_index = self.redis.connection_pool.connection_kwargs.get("db", 0)
        if int(db_index) == 0:
            raise RuntimeError(
                f"{cfg.redis_url}: the bench empties its Redis database; give it its own "
                "(e.g. redis://127.0.0.1:6379/3), not DB 0"
            )
        self.redis.flushdb()
        load = os.getloadavg()
        self.emit(
            f"TaskFlow realtime bench ({'quick' if cfg.quick else 'full'}): {cfg.clients} clients "
            f"in {cfg.procs} client processes, steps {cfg.steps} msgs/s x {cfg.duration:g}s "
            f"(+{cfg.drain:g}s drain), p99 limit {cfg.p99_limit_ms:g} ms"
        )
        self.emit(
            f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} "
            f"{load[2]:.2f} at start; Redis {cfg.redis_url}"
        )
        self.emit(
            "servers: DJANGO_DEBUG=0, CHAT_RATE_LIMIT raised to "
            f"{base_env(redis_url=None, database_url=None)['CHAT_RATE_LIMIT']} (the limiter "
            "runs, but a per-user policy must not cap a capacity test)"
        )
        needs_db = any(t in cfg.targets for t in NEEDS_DB)
        self.env = base_env(redis_url=cfg.redis_url, database_url=None)
        if needs_db:
            t0 = time.monotonic()
            self.db = BenchDatabase(pg_url=cfg.pg_url, name=cfg.db_name, sqlite=cfg.sqlite)
            self.db.create()
            self.db.migrate(self.env)
            self.env = self.db.env(self.env)
            idle_members = cfg.idle_clients if "idle" in cfg.targets else 0
            self.fixtures = self.db.task(
                self.env,
                "setup",
                {
                    "load_members": cfg.clients,
                    "idle_members": idle_members,
                    "idle_room_size": cfg.idle_room_size,
                },
            )
            self.emit(
                f"database: {self.db.vendor} {cfg.db_name if not cfg.sqlite else self.db.url}, "
                f"created, migrated and filled in {time.monotonic() - t0:.1f}s"
            )
        self.pool = ClientPool(cfg.procs)

    def _cleanup(self) -> None:
        self._stop_servers()
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        if self.db is not None and not self.cfg.keep_db:
            try:
                self.db.drop()
            except Exception as exc:
                self.emit(f"could not drop the bench database: {exc}")
        with contextlib.suppress(Exception):
            self.redis.flushdb()

    def _start(self, server: ServerProcess, **kwargs: Any) -> ServerProcess:
        self.servers.append(server)
        return server.start(**kwargs)

    def _stop_servers(self) -> None:
        while self.servers:
            self.servers.pop().stop()

    # --- client pool helpers ------------------------------------------------------------

    def _connect(
        self, urls: list[str], headers: list[dict[str, str]], origin: str | None
    ) -> tuple[int, float, dict[str, int]]:
        """Open one socket per url over the client processes; (opened, seconds, errors)."""
        assert self.pool is not None
        P = len(self.pool)
        t0 = time.monotonic()
        url_parts = split(list(zip(urls, headers, strict=True)), P)
        first = 0
        for i, part in enumerate(url_parts):
            self.pool.send(i, "connect", part, origin, first)
            first += len(part)
        replies = [self.pool.recv(i, timeout=120) for i in range(P)]
        errors: Counter[str] = Counter()
        for r in replies:
            errors.update(r["errors"])
        self._mark_cpu(replies)
        return sum(r["ok"] for r in replies), time.monotonic() - t0, dict(errors)

    def _close_clients(self) -> dict[str, int]:
        assert self.pool is not None
        replies = self.pool.request_all("close", timeout=60)
        closed: Counter[str] = Counter()
        for r in replies:
            closed.update(r["closed_by_server"])
        return dict(closed)

    def _mark_cpu(self, replies: list[dict]) -> None:
        now = time.monotonic()
        self.cpu_mark = [(now, r["cpu_s"]) for r in replies]

    def _generator_cpu(self, replies: list[dict]) -> float:
        now = time.monotonic()
        pcts = [
            100.0 * (r["cpu_s"] - c0) / (now - t0)
            for r, (t0, c0) in zip(replies, self.cpu_mark, strict=False)
            if now > t0
        ]
        self._mark_cpu(replies)
        return max(pcts, default=math.nan)

    def _quiesce(self, quiet_for: float = 0.5, max_wait: float = 15.0) -> tuple[Counter, bool]:
        """Wait until no client has received anything for `quiet_for` seconds."""
        assert self.pool is not None
        late: Counter[str] = Counter()
        deadline = time.monotonic() + max_wait
        while True:
            replies = self.pool.request_all("quiet")
            for r in replies:
                late.update(r["late"])
            if min(r["idle_s"] for r in replies) >= quiet_for:
                self._mark_cpu(replies)
                return late, True
            if time.monotonic() > deadline:
                self._mark_cpu(replies)
                return late, False
            time.sleep(0.2)

    def _step(
        self,
        target: str,
        tag: str,
        rate: float,
        seconds: float,
        members: int,
        server: ServerProcess,
        *,
        only_first_process: bool = False,
    ) -> tuple[StepResult, array.array]:
        """Send at `rate` msgs/s (over all senders) for `seconds`, wait for the deliveries,
        collect latencies. Returns the step and the sender-side echo latencies (us)."""
        assert self.pool is not None
        P = len(self.pool)
        rates = [rate] + [0.0] * (P - 1) if only_first_process else [rate / P] * P
        meter = CpuMeter(server.pid)
        start_at = time.monotonic_ns() + 200_000_000
        for i in range(P):
            self.pool.send(i, "run", tag, rates[i], seconds, start_at)
        sent_replies = [self.pool.recv(i, timeout=seconds * 3 + 30) for i in range(P)]
        sent = sum(r["sent"] for r in sent_replies)
        send_errors = sum(r["send_errors"] for r in sent_replies)
        lag_ms = max(r["lag_ms"] for r in sent_replies)
        expected = sent * members
        deadline = time.monotonic() + self.cfg.drain
        while time.monotonic() < deadline:
            got = sum(r["received"] for r in self.pool.request_all("stats", tag))
            if got >= expected:
                break
            time.sleep(0.05)
        collected = self.pool.request_all("collect", tag, timeout=120)
        server_cpu = meter.read()
        generator_cpu = self._generator_cpu(collected)
        lat = array.array("I")
        echo = array.array("I")
        for r in collected:
            lat.extend(_ms(r["lat"]))
            echo.extend(_ms(r["echo"]))
        received = sum(r["received"] for r in collected)
        last_ns = max((r["last_ns"] for r in collected), default=0)
        # The send window, stretched by deliveries that trail it (never shorter: the last
        # send of a step is due 1/rate before its end).
        window = max(seconds, (last_ns - start_at) / 1e9)
        stats = report.summarize_latencies([us / 1000 for us in lat])
        notes: list[str] = []
        others: Counter[str] = Counter()
        samples: list[str] = []
        closed: Counter[str] = Counter()
        for r in collected:
            others.update(r["other"])
            samples.extend(r["error_samples"])
            closed.update(r["closed_by_server"])
        if others.get("error"):
            notes.append(f"{others['error']} error frames from the server, e.g. {samples[:1]}")
        if closed:
            notes.append(f"sockets closed by the server so far: {dict(closed)}")
        if send_errors:
            notes.append(f"{send_errors} sends failed (socket closed)")
        planned = sum(r["planned"] for r in sent_replies)
        if sent < planned:
            notes.append(f"only {sent} of {planned} planned messages were sent (server pushback)")
        if lag_ms > 100:
            notes.append(
                f"senders fell up to {lag_ms:.0f} ms behind schedule (server pushback or a "
                "saturated generator)"
            )
        if generator_cpu >= 90:
            notes.append(
                f"a client process used {generator_cpu:.0f}% CPU: the generator is saturated, "
                "so latency includes client-side queueing"
            )
        late, quiet = self._quiesce()
        if not quiet:
            notes.append("server still delivering backlog 15 s after the step")
        step = StepResult(
            target=target,
            rate=rate,
            seconds=seconds,
            sent=sent,
            members=members,
            received=received,
            deliveries_per_s=received / window if window > 0 else math.nan,
            p50=stats["p50"],
            p95=stats["p95"],
            p99=stats["p99"],
            max=stats["max"],
            late=late.get(tag, 0),
            server_cpu=server_cpu,
            generator_cpu=generator_cpu,
            sender_lag_ms=lag_ms,
            notes=notes,
        )
        over = server.new_log_lines("channels over capacity")
        if over:
            step.notes.append(
                f"channels-redis dropped group messages: {over} 'channels over capacity' log "
                "lines (a daphne process's queue in Redis held CHANNEL_CAPACITY messages)"
            )
        return step, echo

    # --- rate sweep ---------------------------------------------------------------------

    def _target_server(self, target: str) -> tuple[ServerProcess, Callable[[int], str], bool]:
        """(server, url for client i, needs session cookies)."""
        if target == "raw":
            srv = raw_server(self.env)
            return srv, lambda i: f"ws://127.0.0.1:{srv.port}/", False
        if target in ("bare", "bare-fwd", "pubsub", "memory"):
            layer = {"bare": "redis", "bare-fwd": "redis"}.get(target, target)
            srv = baseline_app(self.env, layer, nohop=target == "bare-fwd")
            return srv, lambda i: f"ws://127.0.0.1:{srv.port}/ws/bare/load/", False
        if target in ("ours", "ours-exp"):
            experiment = self.cfg.experiment if target == "ours-exp" else None
            trace = self.cfg.trace_dir if target == "ours" else None
            if trace:
                os.makedirs(trace, exist_ok=True)
                for old in os.listdir(trace):
                    if old.startswith("trace-") and old.endswith(".log"):
                        os.remove(os.path.join(trace, old))
            srv = our_app(self.env, experiment=experiment, trace_dir=trace)
            room = self.fixtures["rooms"]["load"]
            return srv, lambda i: f"ws://127.0.0.1:{srv.port}/ws/chat-room/{room}/", True
        raise ValueError(target)

    def _session_headers(self, users: list[list]) -> list[dict[str, str]]:
        return [{"Cookie": f"sessionid={key}"} for _pk, _name, key in users]

    def sweep(self, target: str) -> SweepResult:
        cfg = self.cfg
        result = self.sweeps[target] = SweepResult(target)
        self.results.setdefault("targets", {})[target] = result
        if target.startswith("ours") and not _route_exists("ws/chat-room/"):
            result.error = "not measured: ws/chat-room/<id>/ is not in messaging/routing.py"
            self.emit(result.error)
            return result
        self.redis.flushdb()
        server, url_for, needs_session = self._target_server(target)
        self._start(server)
        origin = f"http://127.0.0.1:{server.port}"
        n = cfg.clients
        headers = self._session_headers(self.fixtures["users"][:n]) if needs_session else [{}] * n
        opened, secs, errors = self._connect([url_for(i) for i in range(n)], headers, origin)
        result.connect_s = secs
        if opened < n:
            raise RuntimeError(f"only {opened} of {n} sockets connected: {errors}")
        self._quiesce(quiet_for=0.5, max_wait=30)
        machine = MachineMeter()
        ours_cpu0 = cpu_seconds(server.pid) + sum(c for _, c in self.cpu_mark)
        self.emit("")
        self.emit(f"== {TARGET_TITLES[target]}: {n} sockets connected in {secs:.1f}s")

        warm, _ = self._step(target, f"w{target}", cfg.steps[0], cfg.warmup, n, server)
        if warm.received == 0:
            raise RuntimeError(f"warm-up: no deliveries at all ({'; '.join(warm.notes)})")
        total_sent = warm.sent
        if target in ("raw", "bare", "bare-fwd", "ours", "ours-exp"):
            light, echo = self._step(
                target, f"e{target}", 1.0, cfg.echo_seconds, n, server, only_first_process=True
            )
            e = report.summarize_latencies([us / 1000 for us in echo])
            result.echo_p50, result.echo_p99, result.echo_n = e["p50"], e["p99"], e["n"]
            result.light_p50 = light.p50
            total_sent += light.sent
            if light.received < light.expected:
                result.notes.append(
                    f"light-load step reach {light.reach:.3f} "
                    f"({'; '.join(report.step_explanations(light))})"
                )
            self.emit(
                f"echo at 1 msg/s: sender's own broadcast p50 {fmt(result.echo_p50, 2)} ms, "
                f"p99 {fmt(result.echo_p99, 2)} ms (n={result.echo_n}); all {n} members p50 "
                f"{fmt(light.p50, 2)} ms"
            )
        profiler = self._start_profiler(target, server)
        failures = 0
        for i, rate in enumerate(cfg.steps):
            step, _ = self._step(target, f"s{target}{i}", rate, cfg.duration, n, server)
            result.steps.append(step)
            if not step.passes(cfg.p99_limit_ms):
                failures += 1
                if failures >= cfg.stop_after_failures and i + 1 < len(cfg.steps):
                    result.notes.append(
                        f"steps above {rate:g} msgs/s skipped: past the knee already"
                    )
                    break
        self._refine(target, result, server, n)
        result.machine = machine.read()
        ours_cpu = cpu_seconds(server.pid) + sum(c for _, c in self.cpu_mark) - ours_cpu0
        if profiler is not None:
            self._stop_profiler(target, profiler)
        if target.startswith("ours") and self.db is not None:
            room = self.fixtures["rooms"]["load"]
            saved = self.db.task(self.env, "messages_saved", {"room": room})["count"]
            saved -= self.saved_before
            self.saved_before += saved
            total_sent += sum(s.sent for s in result.steps)
            result.notes.append(f"{saved} chat messages saved in the room for {total_sent} sent")
        closed = self._close_clients()
        if closed:
            result.notes.append(f"sockets closed by the server during the sweep: {closed}")
        if target == "ours" and self.cfg.trace_dir:
            from .trace_report import summarize as trace_summary

            self.emit(f"   trace ({self.cfg.trace_dir}; e=echo, w=warm-up, s=steps, r=refinement):")
            for line in trace_summary(self.cfg.trace_dir).splitlines():
                self.emit(f"   {line}")
        result.machine["bench_percent"] = 100 * ours_cpu / machine.seconds / (os.cpu_count() or 1)
        result.notes.append(
            "machine during the sweep: {busy_percent:.0f}% of all CPUs busy, of which the "
            "server and client processes {bench_percent:.0f}% and everything else (Redis, "
            "PostgreSQL, other users' processes) the rest; {steal_percent:.0f}% stolen by the "
            "hypervisor; load average {load_avg_1m:.1f}".format(**result.machine)
        )
        self.emit(report.step_table(f"-- {target}: rate sweep", result.steps, cfg.p99_limit_ms))
        for note in result.notes:
            self.emit(f"   note: {note}")
        return result

    def _start_profiler(self, target: str, server: ServerProcess) -> ServerProcess | None:
        """py-spy (wall clock: idle stacks and thread ids included) over a daphne sweep."""
        if not self.cfg.profile_dir or not server.name.startswith("daphne"):
            return None
        spy = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or shutil.which("py-spy")
        if spy is None:
            self.emit("   profile: py-spy is not installed (pip install py-spy); not profiled")
            return None
        os.makedirs(self.cfg.profile_dir, exist_ok=True)
        raw = os.path.join(self.cfg.profile_dir, f"{target}.txt")
        cmd = [spy, "record", "--pid", str(server.pid), "--format", "raw", "--output", raw]
        cmd += ["--rate", "250", "--idle", "--threads", "--nonblocking"]
        profiler = ServerProcess(f"py-spy-{target}", cmd, os.environ, 0)
        profiler.output = raw  # type: ignore[attr-defined]
        self.servers.append(profiler)
        profiler.start(ready_line="Sampling process")
        return profiler

    def _stop_profiler(self, target: str, profiler: ServerProcess) -> None:
        from .flame import summarize

        assert profiler.proc is not None
        profiler.proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        with contextlib.suppress(subprocess.TimeoutExpired):  # stop() below kills it
            profiler.proc.wait(timeout=30)
        self.servers.remove(profiler)
        profiler.stop()
        raw = profiler.output  # type: ignore[attr-defined]
        if os.path.exists(raw):
            self.emit(f"   profile ({raw}):")
            for line in summarize(raw).splitlines():
                self.emit(f"   {line}")

    def _refine(self, target: str, result: SweepResult, server: ServerProcess, n: int) -> None:
        """Narrow the knee: geometric midpoints between the knee and the first failing step
        above it (doubling steps alone would make every ratio a power of two)."""
        for j in range(self.cfg.refine):
            knee = result.knee
            above = [s.rate for s in result.steps if knee and s.rate > knee.rate]
            if knee is None or not above:
                return
            lo, hi = knee.rate, min(above)
            mid = round(math.sqrt(lo * hi), 1)
            if hi / lo < 1.1 or mid in (lo, hi):
                return
            step, _ = self._step(target, f"r{target}{j}", mid, self.cfg.duration, n, server)
            result.steps.append(step)
            result.steps.sort(key=lambda s: s.rate)

    # --- idle cost ----------------------------------------------------------------------

    def idle(self) -> None:
        cfg = self.cfg
        out: dict[str, Any] = {}
        self.results["idle"] = out
        targets = ["ours"] if cfg.quick else ["ours", "bare"]
        for target in targets:
            if target == "ours" and not _route_exists("ws/chat-room/"):
                out[target] = {"error": "not measured: no ws/chat-room/ route"}
                continue
            out[target] = self._idle_one(target)
            self._stop_servers()

    def _idle_one(self, target: str) -> dict[str, Any]:
        cfg = self.cfg
        n = cfg.idle_clients
        self.redis.flushdb()
        if target == "ours":
            server = our_app(self.env)
            rooms = self.fixtures["idle_rooms"]
            port_urls = lambda port: [  # noqa: E731
                f"ws://127.0.0.1:{port}/ws/chat-room/{rooms[i // cfg.idle_room_size]}/"
                for i in range(n)
            ]
            headers = self._session_headers(self.fixtures["users"][:n])
        else:
            server = baseline_app(self.env, "redis")
            port_urls = lambda port: [  # noqa: E731
                f"ws://127.0.0.1:{port}/ws/bare/idle{i // cfg.idle_room_size}/" for i in range(n)
            ]
            headers = [{}] * n
        self._start(server)
        origin = f"http://127.0.0.1:{server.port}"
        urls = port_urls(server.port)
        # Warm up: import and initialise whatever the first connection loads lazily.
        self._connect(urls[:1], headers[:1], origin)
        self._close_clients()
        self._quiesce()
        time.sleep(1.0)
        rss0 = rss_kib(server.pid)
        opened, secs, errors = self._connect(urls, headers, origin)
        _late, _quiet = self._quiesce(quiet_for=1.0, max_wait=60)
        time.sleep(1.0)
        rss1 = rss_kib(server.pid)
        meter = CpuMeter(server.pid)
        time.sleep(cfg.idle_seconds)
        cpu = meter.read()
        closed = self._close_clients()
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
        self.emit("")
        self.emit(
            f"== idle cost, {TARGET_TITLES['ours' if target == 'ours' else 'bare']}: {opened}/{n} "
            f"sockets (rooms of {cfg.idle_room_size}) connected in {secs:.1f}s "
            f"({opened / secs if secs else 0:.0f}/s)" + (f", errors {errors}" if errors else "")
        )
        self.emit(
            f"   daphne RSS {rss0 / 1024:.1f} MiB -> {rss1 / 1024:.1f} MiB: "
            f"{fmt(per_conn, 1)} KiB per connection; idle CPU {fmt(cpu, 2)}% of one core over "
            f"{cfg.idle_seconds:g}s"
        )
        return result

    # --- mention path -------------------------------------------------------------------

    def mention(self) -> None:
        cfg = self.cfg
        out: dict[str, Any] = {}
        self.results["mention"] = out
        room = self.fixtures["rooms"]["mention"]
        send_path = f"/messaging/room/{room}/send/"
        missing = []
        if not _path_resolves(send_path):
            missing.append(f"POST {send_path} is not routed")
        if not _route_exists("ws/notifications/"):
            missing.append("ws/notifications/ is not in messaging/routing.py")
        if missing:
            out["error"] = "not measured: " + "; ".join(missing)
            self.emit("")
            self.emit(f"== mention path: {out['error']}")
            return
        self.redis.flushdb()
        server = self._start(our_app(self.env))
        worker = celery_worker(self.env)
        self._start(worker, ready_line=" ready.", timeout=60)
        out.update(asyncio.run(self._mention_run(server, send_path)))
        out["logs"] = [str(server.log_path), str(worker.log_path)]
        if out.get("unmatched_ids"):
            contents = self.db.task(self.env, "notifications", {"ids": out["unmatched_ids"]})
            out["db_matched"] = contents["contents"]
        self.emit("")
        if out.get("error"):
            self.emit(f"== mention path: {out['error']}")
            return
        self.emit(
            f"== mention path (POST {send_path} '@bob ...' -> Celery -> bob's ws/notifications/ "
            f"frame) at {cfg.mention_rate:g} posts/s for {cfg.mention_seconds:g}s"
        )
        self.emit(
            f"   posts {out['posts']} (HTTP {out['statuses']}), notification frames "
            f"{out['matched']}/{out['posts']}: p50 {fmt(out['p50'])} ms, p95 {fmt(out['p95'])} ms, "
            f"p99 {fmt(out['p99'])} ms, max {fmt(out['max'])} ms; POST p50 {fmt(out['post_p50'])} "
            f"ms, p99 {fmt(out['post_p99'])} ms"
        )
        if out["matched"] < out["posts"]:
            self.emit(f"   reach {out['matched'] / out['posts']:.3f}: {out['missing_why']}")

    async def _mention_run(self, server: ServerProcess, send_path: str) -> dict[str, Any]:
        from websockets.asyncio.client import connect

        cfg = self.cfg
        origin = f"http://127.0.0.1:{server.port}"
        csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        alice_session = self.fixtures["alice"][1]
        bob_session = self.fixtures["bob"][1]
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

        local = _ThreadLocalHTTP("127.0.0.1", server.port)

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
            "unmatched_ids": list(unmatched),
            "missing_why": "; ".join(why) or "-",
        }

    # --- history paging -----------------------------------------------------------------

    def history(self) -> None:
        cfg = self.cfg
        room = self.fixtures["rooms"]["history"]
        out = self.db.task(
            self.env,
            "history",
            {"room": room, "rows": cfg.history_rows, "repeat": cfg.history_repeat, "warmup": 3},
        )
        self.results["history"] = out
        self.emit("")
        if out.get("error"):
            self.emit(f"== history paging: not measured: {out['error']}")
            return
        self.emit(
            f"== history paging ({out['url']}, {out['rows']:,} messages in the room, inserted "
            f"in {out['insert_s']:.1f}s; median of {out['repeat']} GETs, Django test client)"
        )
        self.emit(
            f"   first page {out['first_ms']:.2f} ms (p95 {out['first_p95_ms']:.2f}), "
            f"deep page ?before={out['before']} {out['deep_ms']:.2f} ms (p95 "
            f"{out['deep_p95_ms']:.2f}); deep/first = {out['deep_ms'] / out['first_ms']:.2f}x; "
            f"{out['first_count']} and {out['deep_count']} messages, deep page older: "
            f"{out['deep_is_older'] and out['deep_ends_before']}"
        )

    # --- summary ------------------------------------------------------------------------

    def summary(self) -> None:
        cfg = self.cfg
        s = self.sweeps
        self.emit("")
        self.emit(
            "== summary: deliveries/s at the knee (highest step with reach 1.000 and "
            f"p99 <= {cfg.p99_limit_ms:g} ms) and peak over all steps"
        )
        rows = []
        for name in SWEEP_TARGETS:
            if name not in s:
                continue
            r = s[name]
            k = r.knee
            rows.append(
                f"   {name:7} knee {fmt(k.rate if k else None, 0):>6} msgs/s = "
                f"{fmt(r.knee_rate, 0):>8} deliv/s (p99 {fmt(k.p99 if k else None)} ms)   "
                f"peak {fmt(r.peak_rate, 0):>8} deliv/s   echo p50 {fmt(r.echo_p50, 2)} ms"
                + (f"   [{r.error}]" if r.error else "")
            )
        for row in rows:
            self.emit(row)
        ratios: dict[str, float] = {}

        def pair(a: str, b: str, label: str) -> None:
            if a in s and b in s:
                knee = report.ratio(s[a].knee_rate, s[b].knee_rate)
                peak = report.ratio(s[a].peak_rate, s[b].peak_rate)
                ratios[f"{a}/{b}"] = knee
                ratios[f"{a}/{b} peak"] = peak
                self.emit(f"   {label}: {fmt(knee, 2)}x at the knee, {fmt(peak, 2)}x at peak")

        self.emit("ratios:")
        pair("ours", "bare", "our consumer / bare consumer")
        pair("ours", "raw", "our consumer / raw websockets")
        pair("bare", "raw", "bare consumer / raw websockets")
        pair("pubsub", "bare", "RedisPubSubChannelLayer / RedisChannelLayer (bare)")
        pair("memory", "bare", "InMemoryChannelLayer / RedisChannelLayer (bare)")
        pair("bare-fwd", "bare", "DIAGNOSTIC bare-fwd / bare consumer")
        pair("ours-exp", "ours", f"EXPERIMENT ours-exp [{self.cfg.experiment}] / ours")
        pair("ours-exp", "bare", f"EXPERIMENT ours-exp [{self.cfg.experiment}] / bare consumer")
        self.results["ratios"] = ratios

        self.emit("targets:")
        verdicts = []

        def add(ok: bool | None, text: str) -> None:
            verdicts.append({"ok": ok, "text": text})
            self.emit("   " + verdict(ok, text))

        ours, bare = s.get("ours"), s.get("bare")
        if ours and bare:
            r = report.ratio(ours.knee_rate, bare.knee_rate)
            add(
                None
                if math.isnan(r) and bare.knee_rate is None
                else (not math.isnan(r) and r >= 0.8),
                f"our consumer >= 0.8x bare consumer deliveries/s at the knee: {fmt(r, 2)}x "
                f"({fmt(ours.knee_rate, 0)} vs {fmt(bare.knee_rate, 0)})",
            )
            ceiling = max(bare.knee_rate or 0, (s["raw"].knee_rate or 0) if "raw" in s else 0)
            if (bare.knee_rate or 0) >= 5000:
                add(
                    (ours.knee_rate or 0) >= 5000,
                    f">= 5,000 deliveries/s absolute: {fmt(ours.knee_rate, 0)}",
                )
            else:
                add(
                    None,
                    f">= 5,000 deliveries/s absolute: not applicable, the bare consumer's own "
                    f"knee is {fmt(bare.knee_rate, 0)} deliveries/s here (raw ceiling "
                    f"{fmt(ceiling, 0)}); ours {fmt(ours.knee_rate, 0)}",
                )
        else:
            add(None, "our consumer vs bare consumer: not measured (needs targets ours and bare)")
        if ours:
            add(
                None if math.isnan(ours.echo_p50) else ours.echo_p50 < 5,
                f"echo p50 < 5 ms at 1 msg/s: {fmt(ours.echo_p50, 2)} ms (n={ours.echo_n})",
            )
        m = self.results.get("mention")
        if m is not None:
            if m.get("error"):
                add(None, f"mention POST->notification p99 < 300 ms: {m['error']}")
            else:
                complete = m["matched"] == m["posts"]
                add(
                    complete and m["p99"] < 300,
                    f"mention POST->notification p99 < 300 ms at {cfg.mention_rate:g} posts/s: "
                    f"{fmt(m['p99'])} ms, reach {m['matched']}/{m['posts']}",
                )
        h = self.results.get("history")
        if h is not None:
            if h.get("error"):
                add(None, f"deep history page <= 1.5x first page: not measured: {h['error']}")
            else:
                r = h["deep_ms"] / h["first_ms"]
                add(
                    r <= 1.5 and h["deep_is_older"],
                    f"deep history page <= 1.5x first page: {r:.2f}x ({h['deep_ms']:.2f} vs "
                    f"{h['first_ms']:.2f} ms at {h['rows']:,} rows)",
                )
        self.results["verdicts"] = verdicts


# --- helpers ----------------------------------------------------------------------------


class _ThreadLocalHTTP:
    """One keep-alive HTTP connection per posting thread."""

    def __init__(self, host: str, port: int) -> None:
        import threading

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


def _route_exists(prefix: str) -> bool:
    """Whether messaging/routing.py routes a WebSocket path starting with `prefix`."""
    try:
        from messaging.routing import websocket_urlpatterns
    except Exception:
        return False
    return any(str(p.pattern).startswith(prefix) for p in websocket_urlpatterns)


def _path_resolves(path: str) -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def _raise_exit(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _plain(obj: Any) -> Any:
    """JSON-safe copy: dataclasses as dicts, NaN as null."""
    if isinstance(obj, SweepResult | StepResult):
        return _plain(obj.as_dict())
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return obj


def run(cfg: Config, emit: Callable[[str], None]) -> dict[str, Any]:
    return Bench(cfg, emit).run()

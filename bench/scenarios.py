"""The benchmark run: the rate sweeps per target, and the run around them (set-up, the
extra measurements in bench.extras, the summary in bench.summary, and tear-down).

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
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from . import extras, report
from .clients import ClientPool, split
from .config import NEEDS_DB, SWEEP_TARGETS, TARGET_TITLES, Config, route_exists
from .db import BenchDatabase
from .redisdb import BenchRedis
from .report import StepResult, fmt
from .servers import (
    CpuMeter,
    MachineMeter,
    ServerProcess,
    base_env,
    baseline_app,
    our_app,
    raw_server,
)
from .summary import print_summary

__all__ = ["Bench", "Config", "SweepResult", "run"]


@dataclass
class SweepResult:
    target: str
    steps: list[StepResult] = field(default_factory=list)
    echo_p50: float = math.nan
    echo_p99: float = math.nan
    echo_n: int = 0
    light_p50: float = math.nan  # every delivery at 1 msg/s, not just the sender's own
    light_machine_busy: float = math.nan
    connect_s: float = math.nan
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    machine: dict[str, float] = field(default_factory=dict)
    overload: StepResult | None = None  # ours at overload_factor x its knee
    history_step: StepResult | None = None  # ours at its knee, with back-fill requests

    @property
    def knee(self) -> StepResult | None:
        return report.find_knee(self.steps)

    @property
    def knee_is_floor(self) -> bool:
        """A knee with no step above it: the capacity may be higher still."""
        knee = self.knee
        return knee is not None and not any(s.rate > knee.rate for s in self.steps)

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
            "overload": self.overload.as_dict() if self.overload else None,
            "history_step": self.history_step.as_dict() if self.history_step else None,
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
        self.redis: BenchRedis | None = None
        self.servers: list[ServerProcess] = []
        self.db: BenchDatabase | None = None
        self.fixtures: dict[str, Any] = {}
        self.env: dict[str, str] = {}
        self.results: dict[str, Any] = {"config": asdict(cfg)}
        self.sweeps_by_target: dict[str, SweepResult] = {}
        self.runs: list[dict[str, Any]] = []
        self.cpu_mark: list[tuple[float, float]] = []  # (wall, cpu_s) per client process

    # --- the run ------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        previous = signal.signal(signal.SIGTERM, _raise_exit)
        try:
            self._prepare()
            targets = [t for t in SWEEP_TARGETS if t in self.cfg.targets]
            if targets:
                self.repeated_sweeps(targets)
            for name, fn in (("idle", extras.idle), ("mention", extras.mention)):
                if name in self.cfg.targets:
                    self._guarded(name, lambda fn=fn: fn(self))
            if "history" in self.cfg.targets:
                self._guarded("history", lambda: extras.history(self))
            print_summary(self)
            if self.cfg.plot or self.cfg.default_chart:
                self._guarded("plot", self.plot)
        finally:
            self._cleanup()
            signal.signal(signal.SIGTERM, previous)
        if self.cfg.json_out:
            with open(self.cfg.json_out, "w") as f:
                json.dump(_plain(self.results), f, indent=2)
            self.emit(f"JSON results: {self.cfg.json_out}")
        return self.results

    def repeated_sweeps(self, targets: list[str]) -> None:
        """Every room size, `repeat` times, interleaved (20, 100, 20, 100, ...): machine load
        that drifts over the run falls on every size and repetition alike. Each sweep keeps
        its results in `self.runs`; the summary takes medians."""
        cfg = self.cfg
        for rep in range(cfg.repeat):
            for size in cfg.rooms:
                cfg.clients = size
                self.emit("")
                self.emit(f"==== room of {size} sockets, repetition {rep + 1} of {cfg.repeat}")
                self.sweeps_by_target = {}
                self._guarded("sweeps", lambda: self.sweeps(targets))
                self.runs.append({"size": size, "rep": rep, "targets": dict(self.sweeps_by_target)})
        self.results["runs"] = self.runs

    def plot(self) -> None:
        from .plot import write_chart

        path = self.cfg.plot or os.path.join("docs", "bench.png")
        write_chart(self.runs, path, p99_limit_ms=self.cfg.p99_limit_ms)
        self.emit(f"chart: {path}")

    def _guarded(self, name: str, fn: Callable[[], Any]) -> None:
        """A failing scenario is reported and the run goes on to the next one."""
        try:
            fn()
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            self.emit(f"!! {name} failed: {type(exc).__name__}: {exc}")
            self.results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
            if name in self.sweeps_by_target:
                self.sweeps_by_target[name].error = str(exc)
        finally:
            self.stop_servers()

    def _prepare(self) -> None:
        cfg = self.cfg
        self.redis = BenchRedis(cfg.redis_url)
        self.redis.claim()
        self.redis.flush()
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
                    "load_members": max(cfg.rooms),
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
        self.stop_servers()
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        if self.db is not None and not self.cfg.keep_db:
            try:
                self.db.drop()
            except Exception as exc:
                self.emit(f"could not drop the bench database: {exc}")
        if self.redis is not None:
            self.redis.release()

    def start_server(self, server: ServerProcess, **kwargs: Any) -> ServerProcess:
        self.servers.append(server)
        return server.start(**kwargs)

    def stop_servers(self) -> None:
        while self.servers:
            self.servers.pop().stop()

    # --- client pool helpers ------------------------------------------------------------

    def connect_clients(
        self,
        name: str,
        urls: list[str],
        headers: list[dict[str, str]],
        origin: str | None,
        history: tuple[int, str] | None = None,
    ) -> tuple[int, float, dict[str, int]]:
        """Open socket set `name`, one socket per url, spread over the client processes;
        (opened, seconds, errors)."""
        assert self.pool is not None
        P = len(self.pool)
        t0 = time.monotonic()
        url_parts = split(list(zip(urls, headers, strict=True)), P)
        first = 0
        for i, part in enumerate(url_parts):
            self.pool.send(i, "connect", name, part, origin, first, history)
            first += len(part)
        replies = [self.pool.recv(i, timeout=120) for i in range(P)]
        errors: Counter[str] = Counter()
        for r in replies:
            errors.update(r["errors"])
        self._mark_cpu(replies)
        return sum(r["ok"] for r in replies), time.monotonic() - t0, dict(errors)

    def close_clients(self, name: str | None = None) -> dict[str, int]:
        """Close socket set `name` (all of them for None); close codes sent by servers."""
        assert self.pool is not None
        replies = self.pool.request_all("close", name, timeout=60)
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

    def quiesce(self, quiet_for: float = 0.5, max_wait: float = 15.0) -> tuple[Counter, bool]:
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
        # Every sweep (room size x repetition) gets tags of its own: the clients remember
        # the steps they reported, and count a later frame of one as late.
        tag = f"{tag}x{len(self.runs)}"
        P = len(self.pool)
        rates = [rate] + [0.0] * (P - 1) if only_first_process else [rate / P] * P
        meter = CpuMeter(server.pid)
        machine = MachineMeter()
        start_at = time.monotonic_ns() + 200_000_000
        for i in range(P):
            self.pool.send(i, "run", target, tag, rates[i], seconds, start_at)
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
        notes: list[str] = []
        backfilled = target == "ours"
        if backfilled:
            # The page keeps a message until the server answers it (ack, or slow_down) and
            # back-fills on its next message or reconnect. So: wait for every send to be
            # answered (saved or refused; an overloaded server is still saving its backlog),
            # then back-fill; what is still missing after that is really lost.
            answer_by = time.monotonic() + self.cfg.answer_wait
            while time.monotonic() < answer_by:
                stats = self.pool.request_all("stats", tag)
                if sum(r["answered"] for r in stats) >= sent:
                    break
                time.sleep(0.1)
            else:
                notes.append(
                    f"not every send was answered within {self.cfg.answer_wait:g} s of the step"
                )
            replies = self.pool.request_all("backfill", target, timeout=180)
            backfill_failed = sum(r.get("failed_requests", 0) for r in replies)
            unsynced = sum(r.get("unsynced", 0) for r in replies)
            if backfill_failed:
                notes.append(
                    f"{backfill_failed} back-fill requests failed after the step and were "
                    "retried with backoff"
                )
            if unsynced:
                notes.append(
                    f"{unsynced} sockets never completed a back-fill: what they miss is "
                    "counted as lost"
                )
        else:
            backfill_failed = unsynced = 0
        collected = self.pool.request_all("collect", tag, timeout=120)
        server_cpu = meter.read()
        server_wait = meter.waited()
        machine_busy = machine.read()["busy_percent"]
        generator_cpu = self._generator_cpu(collected)
        lat = array.array("I")
        echo = array.array("I")
        bf = array.array("I")
        for r in collected:
            lat.extend(_ms(r["lat"]))
            echo.extend(_ms(r["echo"]))
            bf.extend(_ms(r["bf"]))
        bf_stats = report.summarize_latencies([us / 1000 for us in bf])
        received = sum(r["received"] for r in collected)
        last_ns = max((r["last_ns"] for r in collected), default=0)
        # The send window, stretched by deliveries that trail it (never shorter: the last
        # send of a step is due 1/rate before its end).
        window = max(seconds, (last_ns - start_at) / 1e9)
        stats = report.summarize_latencies([us / 1000 for us in lat])
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
        late, quiet = self.quiesce(max_wait=self.cfg.quiesce_max)
        if not quiet:
            notes.append(
                f"server still delivering backlog {self.cfg.quiesce_max:g} s after the step"
            )
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
            server_wait=server_wait,
            generator_cpu=generator_cpu,
            machine_busy=machine_busy,
            sender_lag_ms=lag_ms,
            refused=sum(r["refused"] for r in collected),
            recovered=sum(r["recovered"] for r in collected),
            backfilled=backfilled,
            backfill_p50=bf_stats["p50"],
            backfill_p99=bf_stats["p99"],
            backfill_n=bf_stats["n"],
            backfill_failed=backfill_failed,
            unsynced=unsynced,
            notes=notes,
        )
        over = server.new_log_lines("channels over capacity")
        if over:
            step.notes.append(
                f"channels-redis dropped group messages: {over} 'channels over capacity' log "
                "lines (a daphne process's queue in Redis held CHANNEL_CAPACITY messages)"
            )
        return step, echo

    # --- rate sweeps -------------------------------------------------------------------

    def _target_server(self, target: str) -> tuple[ServerProcess, Callable[[int], str], bool]:
        """(server, url for client i, needs session cookies). Every target gets its own
        room, so targets that share the Redis DB never hear each other."""
        if target == "raw":
            srv = raw_server(self.env)
            return srv, lambda i: f"ws://127.0.0.1:{srv.port}/", False
        if target in ("bare", "pubsub", "memory"):
            layer = {"bare": "redis"}.get(target, target)
            srv = baseline_app(self.env, layer)
            return srv, lambda i: f"ws://127.0.0.1:{srv.port}/ws/bare/{target}/", False
        if target == "ours":
            srv = our_app(self.env)
            room = self.fixtures["rooms"][target]
            return srv, lambda i: f"ws://127.0.0.1:{srv.port}/ws/chat-room/{room}/", True
        raise ValueError(target)

    def session_headers(self, users: list[list]) -> list[dict[str, str]]:
        return [{"Cookie": f"sessionid={key}"} for _pk, _name, key in users]

    def sweeps(self, targets: list[str]) -> None:
        """Rate sweeps of every target, interleaved: all servers run and all socket sets stay
        connected, and each step is run against each target in turn, so the load that other
        processes put on the machine drifts over all targets alike (on a shared machine a
        target measured a minute later can see a very different machine)."""
        cfg = self.cfg
        n = cfg.clients
        self.redis.flush()
        live: list[_Live] = []
        for target in targets:
            result = self.sweeps_by_target[target] = SweepResult(target)
            if target == "ours" and not route_exists("ws/chat-room/"):
                result.error = "not measured: ws/chat-room/<id>/ is not in messaging/routing.py"
                self.emit(f"{target}: {result.error}")
                continue
            try:
                server, url_for, needs_session = self._target_server(target)
                self.start_server(server)
                users = self.fixtures["users"][:n] if needs_session else []
                headers = self.session_headers(users) if needs_session else [{}] * n
                origin = f"http://127.0.0.1:{server.port}"
                urls = [url_for(i) for i in range(n)]
                history = None
                if target == "ours":
                    room = self.fixtures["rooms"]["ours"]
                    history = (server.port, f"/messaging/room/{room}/history/")
                opened, secs, errors = self.connect_clients(target, urls, headers, origin, history)
                result.connect_s = secs
                if opened < n:
                    raise RuntimeError(f"only {opened} of {n} sockets connected: {errors}")
                if errors:
                    result.notes.append(
                        f"connecting: {sum(errors.values())} failed handshake attempts before "
                        f"all {n} sockets were open: {errors}"
                    )
            except Exception as exc:
                result.error = f"{type(exc).__name__}: {exc}"
                self.emit(f"!! {target} failed to start: {result.error}")
                continue
            self.emit(f"{TARGET_TITLES[target]}: {n} sockets connected in {secs:.1f}s")
            live.append(_Live(target, server, result))
        self.quiesce(quiet_for=0.5, max_wait=30)

        def each(fn: Callable[[_Live], None]) -> None:
            for lv in live:
                if lv.active:
                    try:
                        fn(lv)
                    except (KeyboardInterrupt, SystemExit):
                        raise
                    except Exception as exc:
                        lv.active = False
                        lv.result.error = f"{type(exc).__name__}: {exc}"
                        self.emit(f"!! {lv.target} failed: {lv.result.error}")

        each(self._warm_up)
        each(self._echo)
        each(self._start_profiler)
        for i, rate in enumerate(cfg.steps):
            if not any(lv.active and lv.stepping for lv in live):
                break
            self.emit(f".. step {rate:g} msgs/s")
            each(lambda lv, i=i, rate=rate: self._sweep_step(lv, f"s{i}", rate, i))
        for j in range(cfg.refine):
            each(lambda lv, j=j: self._refine_step(lv, j))
        each(self._history_step)
        each(self._overload_step)
        for lv in live:
            self._finish(lv)
        self.close_clients()
        self.stop_servers()

    def _warm_up(self, lv: _Live) -> None:
        cfg = self.cfg
        warm, _ = self._step(
            lv.target, f"w{lv.target}", cfg.steps[0], cfg.warmup, cfg.clients, lv.server
        )
        lv.sent += warm.sent
        if warm.received == 0:
            raise RuntimeError(f"warm-up: no deliveries at all ({'; '.join(warm.notes)})")

    def _echo(self, lv: _Live) -> None:
        """1 msg/s from one client process: the sender's own broadcast is the round trip."""
        if lv.target not in ("raw", "bare", "ours"):
            return
        cfg, result = self.cfg, lv.result
        light, echo = self._step(
            lv.target,
            f"e{lv.target}",
            1.0,
            cfg.echo_seconds,
            cfg.clients,
            lv.server,
            only_first_process=True,
        )
        lv.sent += light.sent
        e = report.summarize_latencies([us / 1000 for us in echo])
        result.echo_p50, result.echo_p99, result.echo_n = e["p50"], e["p99"], e["n"]
        result.light_p50 = light.p50
        result.light_machine_busy = light.machine_busy
        if light.received < light.expected:
            result.notes.append(
                f"light-load step reach {light.reach:.3f} "
                f"({'; '.join(report.step_explanations(light))})"
            )

    def _sweep_step(self, lv: _Live, tag: str, rate: float, index: int) -> None:
        cfg = self.cfg
        if tag.startswith("s") and not lv.stepping:
            return
        # At low rates a few seconds hold only a handful of messages, and p99 over their
        # deliveries is really the slowest message or two: stretch the step instead.
        seconds = max(cfg.duration, cfg.min_step_messages / rate)
        step, _ = self._step(lv.target, f"{tag}{lv.target}", rate, seconds, cfg.clients, lv.server)
        lv.sent += step.sent
        lv.result.steps.append(step)
        lv.result.steps.sort(key=lambda s: s.rate)
        ok = step.passes(cfg.p99_limit_ms)
        self.emit(
            f"   {lv.target:8} {fmt(step.deliveries_per_s, 0):>8} deliv/s  p99 "
            f"{fmt(step.p99):>8} ms  reach {step.reach:.3f}  {'ok' if ok else 'NO'}"
        )
        if not ok and tag.startswith("s"):
            lv.failures += 1
            if lv.failures >= cfg.stop_after_failures:
                lv.stepping = False
                if index + 1 < len(cfg.steps):
                    lv.result.notes.append(
                        f"steps above {rate:g} msgs/s skipped after {lv.failures} failed "
                        "steps: past the knee"
                    )

    def _refine_step(self, lv: _Live, j: int) -> None:
        """Narrow the knee: the geometric midpoint between the knee and the first failing
        step above it (doubling steps alone would make every ratio a power of two)."""
        knee = lv.result.knee
        above = [s.rate for s in lv.result.steps if knee and s.rate > knee.rate]
        if knee is None or not above:
            return
        lo, hi = knee.rate, min(above)
        mid = round(math.sqrt(lo * hi), 1)
        if hi / lo < 1.1 or mid in (lo, hi):
            return
        if j == 0:
            self.emit(f".. refining the knee of {lv.target}")
        self._sweep_step(lv, f"r{j}", mid, -1)

    def _history_step(self, lv: _Live) -> None:
        """Ours at its knee again, while one socket per client process back-fills
        (GET history/?after=<its position>) every 0.25 s: the back-fill p99 while the room
        takes posts. A step of its own, so the probe's requests load no sweep step."""
        if lv.target != "ours" or lv.result.knee is None:
            return
        rate = lv.result.knee.rate
        seconds = max(self.cfg.duration, self.cfg.min_step_messages / rate)
        step, _ = self._step(lv.target, "hours", rate, seconds, self.cfg.clients, lv.server)
        lv.sent += step.sent
        lv.result.history_step = step
        self.emit(
            f"   ours     back-fill while posting at {rate:g} msgs/s: p50 "
            f"{fmt(step.backfill_p50)} ms, p99 {fmt(step.backfill_p99)} ms "
            f"(n={step.backfill_n}); deliveries p99 {fmt(step.p99)} ms"
        )

    def _overload_step(self, lv: _Live) -> None:
        """Ours at `overload_factor` x its knee: pushback and back-fill must leave nothing
        lost (counted after the clients back-fill as the page does)."""
        if lv.target != "ours":
            return
        knee = lv.result.knee
        rate = (knee.rate if knee else self.cfg.steps[0]) * self.cfg.overload_factor
        self.emit(f".. overload: ours at {rate:g} msgs/s ({self.cfg.overload_factor:g}x its knee)")
        seconds = max(self.cfg.duration, self.cfg.min_step_messages / rate)
        step, _ = self._step(lv.target, "oours", rate, seconds, self.cfg.clients, lv.server)
        lv.sent += step.sent
        lv.result.overload = step
        self.emit(
            f"   ours     {fmt(step.deliveries_per_s, 0):>8} deliv/s  p99 {fmt(step.p99):>8} ms"
            f"  refused {step.refused}  recovered {step.recovered}  lost {step.lost}"
        )

    def _finish(self, lv: _Live) -> None:
        """Stop the profiler, count saved messages, print the target's table."""
        cfg, result = self.cfg, lv.result
        self.emit("")
        self.emit(f"== {TARGET_TITLES[lv.target]}")
        if not math.isnan(result.echo_p50):
            self.emit(
                f"echo at 1 msg/s: sender's own broadcast p50 {fmt(result.echo_p50, 2)} ms, "
                f"p99 {fmt(result.echo_p99, 2)} ms (n={result.echo_n}); all {cfg.clients} "
                f"members p50 {fmt(result.light_p50, 2)} ms; machine "
                f"{fmt(result.light_machine_busy, 0)}% busy meanwhile"
            )
        if lv.profiler is not None:
            self._stop_profiler(lv)
        if lv.target == "ours" and self.db is not None:
            room = self.fixtures["rooms"][lv.target]
            saved = self.db.task(self.env, "messages_saved", {"room": room})["count"]
            result.notes.append(f"{saved} chat messages saved in the room for {lv.sent} sent")
        if result.error:
            result.notes.append(f"stopped early: {result.error}")
        self.emit(report.step_table(f"-- {lv.target}: rate sweep", result.steps, cfg.p99_limit_ms))
        for note in result.notes:
            self.emit(f"   note: {note}")

    def _start_profiler(self, lv: _Live) -> None:
        if lv.server.name.startswith("daphne"):
            lv.profiler, lv.profile_path = self.start_profiler(lv.target, lv.server)

    def _stop_profiler(self, lv: _Live) -> None:
        assert lv.profiler is not None and lv.profile_path is not None
        self.stop_profiler(lv.profiler, lv.profile_path, "over the whole interleaved sweep")

    def start_profiler(
        self, name: str, server: ServerProcess
    ) -> tuple[ServerProcess | None, str | None]:
        """py-spy (wall clock: idle stacks and thread ids included) over a server, when
        --profile asks for it: (profiler, raw output path), or (None, None)."""
        if not self.cfg.profile_dir:
            return None, None
        spy = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or shutil.which("py-spy")
        if spy is None:
            self.emit("   profile: py-spy is not installed (pip install py-spy); not profiled")
            return None, None
        os.makedirs(self.cfg.profile_dir, exist_ok=True)
        raw = os.path.join(self.cfg.profile_dir, f"{name}.txt")
        cmd = [spy, "record", "--pid", str(server.pid), "--format", "raw", "--output", raw]
        cmd += ["--rate", "250", "--idle", "--threads", "--nonblocking"]
        profiler = ServerProcess(f"py-spy-{name}", cmd, os.environ, 0)
        self.servers.append(profiler)
        profiler.start(ready_line="Sampling process")
        return profiler, raw

    def stop_profiler(self, profiler: ServerProcess, raw: str, what: str) -> None:
        """Stop py-spy and print its per-thread summary."""
        from .flame import summarize

        assert profiler.proc is not None
        profiler.proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        with contextlib.suppress(subprocess.TimeoutExpired):  # stop() below kills it
            profiler.proc.wait(timeout=30)
        self.servers.remove(profiler)
        profiler.stop()
        if os.path.exists(raw):
            self.emit(f"   profile ({raw}; wall clock {what}):")
            for line in summarize(raw).splitlines():
                self.emit(f"   {line}")


@dataclass
class _Live:
    """A target during the interleaved sweeps."""

    target: str
    server: ServerProcess
    result: SweepResult
    active: bool = True  # False once it failed outright
    stepping: bool = True  # False once past the knee
    failures: int = 0
    sent: int = 0
    profiler: ServerProcess | None = None
    profile_path: str | None = None


# --- helpers ----------------------------------------------------------------------------


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

"""What a run measures and how hard: targets, steps, durations and the services it uses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from . import report

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
    steps: list[float] = field(default_factory=lambda: [2.5, 5, 10, 20, 40, 80, 160, 320, 640])
    duration: float = 4.0  # seconds of sending per step
    min_step_messages: int = 30  # ...or longer, so that a step sends at least this many
    warmup: float = 2.0
    drain: float = 3.0  # how long after the last send a delivery still counts
    quiesce_max: float = 15.0  # how long to let a backlog drain before the next step
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
    # Failed steps before a sweep stops: 2, so one step spoiled by a burst of load from other
    # processes does not end a target's sweep.
    stop_after_failures: int = 2
    refine: int = 2  # extra steps bisecting between the knee and the next step
    redis_url: str = field(default_factory=lambda: default_redis_url())
    pg_url: str = field(default_factory=lambda: default_pg_url())
    db_name: str = "taskflow_bench"
    sqlite: bool = False
    keep_db: bool = False
    json_out: str | None = None
    profile_dir: str | None = None  # py-spy the daphne targets' rate sweeps into this folder
    # Patches for target ours-exp (bench/asgi_experiment.py). `fwd` alone: in one interleaved
    # run it lifted the knee 1.41x; `fwd,pool` did not move it (1.01x) in another.
    experiment: str = "fwd"
    trace_dir: str | None = None  # run `ours` with per-stage timestamps (bench/asgi_trace.py)

    @classmethod
    def quick_defaults(cls) -> Config:
        return cls(
            quick=True,
            clients=20,
            procs=2,
            steps=[10, 40, 160],
            duration=1.5,
            min_step_messages=10,
            warmup=0.5,
            drain=2.0,
            quiesce_max=4.0,
            echo_seconds=2.0,
            targets=list(QUICK_TARGETS),
            refine=0,
            idle_clients=200,
            idle_seconds=2.0,
            mention_seconds=2.0,
            history_rows=10_000,
            history_repeat=10,
        )


def route_exists(prefix: str) -> bool:
    """Whether messaging/routing.py routes a WebSocket path starting with `prefix`."""
    try:
        from messaging.routing import websocket_urlpatterns
    except Exception:
        return False
    return any(str(p.pattern).startswith(prefix) for p in websocket_urlpatterns)

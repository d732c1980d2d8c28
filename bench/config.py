"""What a run measures and how hard: targets, steps, durations and the services it uses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from . import report

SWEEP_TARGETS = ("raw", "bare", "pubsub", "memory", "ours")
ALL_TARGETS = (*SWEEP_TARGETS, "idle", "mention", "history")
# The layer comparisons (pubsub, memory) run on request (--only): the table needs raw,
# bare and ours, and every target costs each repetition minutes.
DEFAULT_TARGETS = ("raw", "bare", "ours", "idle", "mention", "history")
QUICK_TARGETS = ("raw", "bare", "ours", "idle", "mention", "history")
NEEDS_DB = ("ours", "idle", "mention", "history")
TARGET_TITLES = {
    "raw": "raw websockets broadcast server (bench/raw_server.py)",
    "bare": "bare Channels consumer, RedisChannelLayer (bench/asgi_baseline.py)",
    "pubsub": "bare Channels consumer, RedisPubSubChannelLayer",
    "memory": "bare Channels consumer, InMemoryChannelLayer",
    "ours": "our ChatRoomConsumer (ws/chat-room/<id>/: session auth, origin check, DB write)",
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
    # Room sizes (sockets in the room), each swept `repeat` times; the repetitions interleave
    # (20, 100, 20, 100, ...) and the summary takes the median of each figure.
    rooms: list[int] = field(default_factory=lambda: [20, 100])
    repeat: int = 3
    clients: int = 20  # the room size of the sweep in progress (set by the run)
    procs: int = 3
    steps: list[float] = field(default_factory=lambda: [5, 10, 20, 40, 80, 160, 320, 640])
    duration: float = 3.0  # seconds of sending per step
    min_step_messages: int = 30  # ...or longer, so that a step sends at least this many
    warmup: float = 1.5
    drain: float = 3.0  # how long after the last send a delivery still counts
    quiesce_max: float = 10.0  # how long to let a backlog drain before the next step
    echo_seconds: float = 6.0
    # After the sweep, one step at this multiple of ours's knee: loss is counted after the
    # clients back-fill with ?after= exactly as the page does.
    overload_factor: float = 4.0
    # ours: how long after a step to wait for every send to be acknowledged or refused
    # before the clients back-fill (an overloaded server is still saving its backlog).
    answer_wait: float = 60.0
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
    refine: int = 1  # extra steps bisecting between the knee and the next step
    redis_url: str = field(default_factory=lambda: default_redis_url())
    pg_url: str = field(default_factory=lambda: default_pg_url())
    db_name: str = "taskflow_bench"
    sqlite: bool = False
    keep_db: bool = False
    json_out: str | None = None
    plot: str | None = None  # the chart (docs/bench.png by default for a full run)
    default_chart: bool = True  # write docs/bench.png when no --plot is given (the full run)
    profile_dir: str | None = None  # py-spy the daphne targets' rate sweeps into this folder

    @classmethod
    def quick_defaults(cls) -> Config:
        return cls(
            quick=True,
            default_chart=False,
            rooms=[20],
            repeat=1,
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

"""`python -m bench` (`make bench`, `make bench-quick`): realtime throughput and latency, ours
against baselines.

Starts its own daphne processes, raw websockets server and Celery worker on loopback, its own
PostgreSQL database (dropped afterwards) and uses a dedicated Redis database, which it empties.
The work is in the `bench` package; this module only turns options into a bench.Config. The
exit status is 1 when a run shows silent loss (a message saved but never delivered to a
socket, even after the back-fill the page does) or could not measure ours at all.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from bench.config import Config


def _rates(text: str) -> list[float]:
    try:
        rates = [float(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--steps: {exc}") from exc
    if not rates or any(r <= 0 for r in rates):
        raise argparse.ArgumentTypeError("--steps needs positive rates, e.g. 50,100,200")
    return sorted(rates)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--rooms: {exc}") from exc
    if not sizes or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError("--rooms needs positive room sizes, e.g. 20,100")
    return sizes


def _targets(text: str) -> list[str]:
    from bench.config import ALL_TARGETS

    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = sorted(set(names) - set(ALL_TARGETS))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown targets {unknown}; choose from {', '.join(ALL_TARGETS)}"
        )
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark realtime delivery: our chat consumer against a bare Channels "
        "consumer and a raw websockets server (rate sweeps per room size, knee, ratios, loss "
        "after back-fill), idle cost, the mention path and history paging. --quick is the CI "
        "smoke version.",
    )
    p.add_argument("--quick", action="store_true", help="short smoke run (~2 min)")
    p.add_argument("--rooms", type=_sizes, help="room sizes (sockets), e.g. 20,100 (default)")
    p.add_argument("--repeat", type=int, help="interleaved repetitions per room size (3)")
    p.add_argument("--clients", type=int, help="one room size (same as --rooms N)")
    p.add_argument("--procs", type=int, help="client processes (default 3)")
    p.add_argument("--duration", type=float, help="seconds of sending per step")
    p.add_argument("--steps", type=_rates, help="total msgs/s per step, e.g. 50,100")
    p.add_argument("--warmup", type=float, help="warm-up seconds per target")
    p.add_argument("--drain", type=float, help="seconds a delivery may trail the step")
    p.add_argument("--refine", type=int, help="extra steps to narrow the knee (1)")
    p.add_argument("--echo-seconds", type=float, help="seconds of the 1 msg/s echo step")
    p.add_argument("--only", type=_targets, help="comma list of targets")
    p.add_argument("--skip", type=_targets, help="comma list of targets to leave out")
    p.add_argument("--idle-clients", type=int, help="idle sockets (default 1000)")
    p.add_argument("--history-rows", type=int, help="messages for history paging")
    p.add_argument("--redis-url", help="a Redis DB the bench may empty (not DB 0)")
    p.add_argument("--pg-url", help="PostgreSQL server URL (any database on it)")
    p.add_argument("--db-name", help="name of the bench database it creates and drops")
    p.add_argument("--sqlite", action="store_true", help="SQLite file instead of Postgres")
    p.add_argument("--keep-db", action="store_true", help="do not drop the bench database")
    p.add_argument("--json-out", help="write every figure to this JSON file")
    p.add_argument("--plot", help="write the chart here (default docs/bench.png for a full run)")
    p.add_argument(
        "--profile", metavar="DIR", help="py-spy the daphne sweeps (needs py-spy) into DIR"
    )
    return p


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kanban_board.settings")
    import django

    django.setup()
    from bench.redisdb import DatabaseInUse
    from bench.scenarios import run

    out = out or sys.stdout
    cfg = config_from(argv)
    if cfg is None:
        return 2

    def emit(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    try:
        results = run(cfg, emit)
    except DatabaseInUse as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; every child process was stopped", file=sys.stderr)
        return 130
    failures = results.get("enforced_failures", [])
    for failure in failures:
        emit(f"FAILED: {failure}")
    return 1 if failures else 0


# Options that make a run other than the full one: its chart would not be the recorded one.
SHAPING = (
    *("rooms", "clients", "repeat", "procs", "duration", "steps", "warmup", "drain"),
    *("refine", "echo_seconds", "only", "skip"),
)


def config_from(argv: list[str] | None) -> Config | None:
    """The run's Config from the command line (None, with a message, if it cannot run)."""
    from bench.config import Config

    opts = vars(parser().parse_args(argv))
    cfg = Config.quick_defaults() if opts["quick"] else Config()
    # docs/bench.png is written by the full run only; any other run writes a chart only
    # where --plot says.
    cfg.default_chart = not opts["quick"] and all(opts.get(o) is None for o in SHAPING)
    for option, attr in (
        ("rooms", "rooms"),
        ("repeat", "repeat"),
        ("procs", "procs"),
        ("duration", "duration"),
        ("steps", "steps"),
        ("warmup", "warmup"),
        ("drain", "drain"),
        ("refine", "refine"),
        ("echo_seconds", "echo_seconds"),
        ("only", "targets"),
        ("idle_clients", "idle_clients"),
        ("history_rows", "history_rows"),
        ("redis_url", "redis_url"),
        ("pg_url", "pg_url"),
        ("db_name", "db_name"),
        ("json_out", "json_out"),
        ("plot", "plot"),
        ("profile", "profile_dir"),
    ):
        if opts.get(option) is not None:
            setattr(cfg, attr, opts[option])
    if opts["clients"] is not None:
        cfg.rooms = [opts["clients"]]
    if opts["skip"]:
        cfg.targets = [t for t in cfg.targets if t not in opts["skip"]]
    cfg.sqlite = opts["sqlite"]
    cfg.keep_db = opts["keep_db"]
    if cfg.repeat < 1 or cfg.procs < 1 or min(cfg.rooms) < cfg.procs:
        print("need --repeat >= 1 and every room size >= --procs >= 1", file=sys.stderr)
        return None
    return cfg

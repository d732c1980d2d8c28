"""`manage.py bench_realtime`: realtime throughput and latency, ours against baselines.

Starts its own daphne, raw websockets server and Celery worker on loopback, its own
PostgreSQL database (dropped afterwards) and uses a dedicated Redis database, which it empties.
The work is in the `bench` package; this command only turns options into a bench.Config.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.config import ALL_TARGETS, Config
from bench.redisdb import DatabaseInUse
from bench.scenarios import run


def _rates(text: str) -> list[float]:
    try:
        rates = [float(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise CommandError(f"--steps: {exc}") from exc
    if not rates or any(r <= 0 for r in rates):
        raise CommandError("--steps needs positive rates, e.g. 50,100,200")
    return sorted(rates)


def _targets(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = sorted(set(names) - set(ALL_TARGETS))
    if unknown:
        raise CommandError(f"unknown targets {unknown}; choose from {', '.join(ALL_TARGETS)}")
    return names


class Command(BaseCommand):
    help = (
        "Benchmark realtime delivery: our chat consumer against a bare Channels consumer and a "
        "raw websockets server (rate sweep, knee, ratios), channel layers, idle cost, the "
        "mention path and history paging. --quick is the CI smoke version."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quick", action="store_true", help="short smoke run (~1 min)")
        parser.add_argument("--clients", type=int, help="sockets in the room (default 100)")
        parser.add_argument("--procs", type=int, help="client processes (default 3)")
        parser.add_argument("--duration", type=float, help="seconds of sending per step")
        parser.add_argument("--steps", type=_rates, help="total msgs/s per step, e.g. 50,100")
        parser.add_argument("--warmup", type=float, help="warm-up seconds per target")
        parser.add_argument("--drain", type=float, help="seconds a delivery may trail the step")
        parser.add_argument("--refine", type=int, help="extra steps to narrow the knee (2)")
        parser.add_argument("--echo-seconds", type=float, help="seconds of the 1 msg/s echo step")
        parser.add_argument(
            "--only",
            type=_targets,
            help=f"comma list of targets: {','.join(ALL_TARGETS)} (default: all but the "
            "diagnostics ours-exp and bare-fwd)",
        )
        parser.add_argument("--skip", type=_targets, help="comma list of targets to leave out")
        parser.add_argument("--idle-clients", type=int, help="idle sockets (default 1000)")
        parser.add_argument("--history-rows", type=int, help="messages for history paging")
        parser.add_argument("--redis-url", help="a Redis DB the bench may empty (not DB 0)")
        parser.add_argument("--pg-url", help="PostgreSQL server URL (any database on it)")
        parser.add_argument("--db-name", help="name of the bench database it creates and drops")
        parser.add_argument("--sqlite", action="store_true", help="SQLite file instead of Postgres")
        parser.add_argument("--keep-db", action="store_true", help="do not drop the bench database")
        parser.add_argument("--json-out", help="write every figure to this JSON file")
        parser.add_argument(
            "--profile", metavar="DIR", help="py-spy the daphne sweeps (needs py-spy) into DIR"
        )
        parser.add_argument(
            "--trace",
            metavar="DIR",
            help="time each stage of our consumer (bench/asgi_trace.py), logs in DIR",
        )
        parser.add_argument(
            "--experiment",
            help="patches for target ours-exp: fwd (default), pool, or fwd,pool "
            "(bench/asgi_experiment.py)",
        )

    def handle(self, *args, **opts) -> None:
        cfg = Config.quick_defaults() if opts["quick"] else Config()
        for option, attr in (
            ("clients", "clients"),
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
            ("profile", "profile_dir"),
            ("experiment", "experiment"),
            ("trace", "trace_dir"),
        ):
            if opts.get(option) is not None:
                setattr(cfg, attr, opts[option])
        if opts["skip"]:
            cfg.targets = [t for t in cfg.targets if t not in opts["skip"]]
        cfg.sqlite = opts["sqlite"]
        cfg.keep_db = opts["keep_db"]
        if cfg.clients < 1 or cfg.procs < 1 or cfg.clients < cfg.procs:
            raise CommandError("need --clients >= --procs >= 1")

        def emit(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        try:
            run(cfg, emit)
        except DatabaseInUse as exc:
            raise CommandError(str(exc)) from exc
        except KeyboardInterrupt as exc:
            raise CommandError("interrupted; every child process was stopped") from exc

"""Real processes for tests, all run by one helper (bench.servers.ServerProcess: own process
group, a log file, killed with the whole group and with the test run itself):

* `DaphneServer`: our app under daphne (pytest-django's live_server cannot serve WebSockets),
  sharing the test database (a file for SQLite, test_<name> for PostgreSQL).
* `CeleryWorker`: `celery -A kanban_board worker` on a broker and the test database.
* `RedisServer`: a redis-server of our own on a free port (restartable on that port), or a
  replica / Sentinel of one.
* `wait_for`: poll a condition (never a fixed sleep).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bench.servers import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / ".test-logs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], object], *, timeout: float, what: str, every=0.2):
    """Poll `predicate` until it returns something truthy (returned) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_for_http(url: str, *, timeout: float = 30.0, process: ServerProcess | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and (process.proc is None or process.proc.poll() is not None):
            raise RuntimeError(f"server exited before answering {url}:\n{process.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
            last = exc
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s: {last}")


def database_url_for(settings_dict: Mapping) -> str:
    """DATABASE_URL that points a child process at the (test) database in settings_dict."""
    engine = settings_dict["ENGINE"]
    name = settings_dict["NAME"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{name}"
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{name}"


class DaphneServer:
    """One daphne process on a free loopback port. Use as a context manager or start/stop."""

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str | None = None,
        port: int | None = None,
        extra_env: Mapping[str, str] | None = None,
        daphne_args: tuple[str, ...] = (),
        log_path: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.database_url = database_url
        self.redis_url = redis_url
        self.extra_env = dict(extra_env or {})
        self.daphne_args = daphne_args
        self.log_path = log_path or LOG_DIR / f"daphne-{self.port}.log"
        self.process: ServerProcess | None = None

    @property
    def proc(self):
        """The running daphne's Popen (None once stopped)."""
        return self.process.proc if self.process is not None else None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
        env.update(
            DJANGO_SETTINGS_MODULE="kanban_board.settings",
            DATABASE_URL=self.database_url,
            DJANGO_DEBUG="1",
            PYTHONUNBUFFERED="1",
        )
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update(self.extra_env)
        return env

    def start(self, *, timeout: float = 30.0) -> DaphneServer:
        """Start daphne and wait until /healthz answers."""
        return self.launch().wait_ready(timeout=timeout)

    def launch(self) -> DaphneServer:
        """Start daphne without waiting (from the thread that owns it: see ServerProcess)."""
        # kanban_board.serve adds the production limits (websocket timeout = the layer's
        # group_expiry basis, message size) from the child's own settings.
        cmd = [
            sys.executable,
            "-m",
            "kanban_board.serve",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            *self.daphne_args,
        ]
        self.process = ServerProcess(
            "daphne", cmd, self.env(), self.port, log_path=self.log_path, append_log=True
        ).spawn()
        return self

    def wait_ready(self, *, timeout: float = 30.0) -> DaphneServer:
        try:
            wait_for_http(f"{self.url}/healthz", timeout=timeout, process=self.process)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM (then SIGKILL after 5 s) the server's process group."""
        if self.process is not None:
            self.process.stop()
        self.process = None

    def __enter__(self) -> DaphneServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- Celery workers ---------------------------------------------------------------------


def worker_env(*, broker_url: str, database_url: str, **extra: str) -> dict[str, str]:
    """A worker's environment: our CELERY_* variables dropped, `broker_url` as REDIS_URL."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "DATABASE_URL") and not k.startswith("CELERY_")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="kanban_board.settings",
        REDIS_URL=broker_url,
        DATABASE_URL=database_url,
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


class CeleryWorker:
    """`celery -A kanban_board worker` (solo pool unless told) as a child process."""

    pool = "solo"
    concurrency = 1

    def __init__(self, env: Mapping[str, str], name: str | None = None) -> None:
        self.env = dict(env)
        self.name = name or f"test-{uuid.uuid4().hex[:8]}"
        self.process: ServerProcess | None = None

    @property
    def log_path(self) -> Path:
        return LOG_DIR / f"celery-{self.name}.log"

    def start(self, *, timeout: float = 90) -> CeleryWorker:
        cmd = [
            sys.executable, "-m", "celery", "-A", "kanban_board", "worker",
            f"--pool={self.pool}", "-c", str(self.concurrency),
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--loglevel=INFO", "-n", f"{self.name}@%h",
        ]  # fmt: skip
        self.process = ServerProcess(self.name, cmd, self.env, 0, log_path=self.log_path)
        self.process.start(timeout=timeout, ready_line=" ready.")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, pattern: str, *, timeout: float) -> None:
        """Wait for a regex in the log (the banner lists task names: match more)."""

        def seen() -> bool:
            proc = self.process.proc if self.process is not None else None
            if proc is None or proc.poll() is not None:
                raise AssertionError(f"worker is not running:\n{self.log()}")
            return re.search(pattern, self.log()) is not None

        wait_for(seen, timeout=timeout, what=f"{pattern!r} in the worker log {self.log_path}")

    def kill(self) -> None:
        """SIGKILL the whole group: no chance to acknowledge, requeue or clean up."""
        assert self.process is not None and self.process.proc is not None
        os.killpg(self.process.proc.pid, signal.SIGKILL)
        self.process.proc.wait(timeout=10)
        self.process.proc = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


# --- Redis ------------------------------------------------------------------------------


class RedisServer:
    """redis-server on a fixed free port (no persistence), restartable on that port; with
    `replica_of`, a replica of another one; with `sentinel_of`, a Sentinel watching one."""

    def __init__(
        self,
        *,
        replica_of: RedisServer | None = None,
        sentinel_of: tuple[str, RedisServer] | None = None,
        name: str = "redis",
    ) -> None:
        self.port = free_port()
        self.replica_of = replica_of
        self.sentinel_of = sentinel_of
        self.name = name
        self.process: ServerProcess | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        if self.sentinel_of is not None:
            master, primary = self.sentinel_of
            conf = LOG_DIR / f"sentinel-{self.port}.conf"
            conf.parent.mkdir(parents=True, exist_ok=True)
            conf.write_text(
                f"port {self.port}\nbind 127.0.0.1\ndaemonize no\n"
                f"sentinel monitor {master} 127.0.0.1 {primary.port} 2\n"
                f"sentinel down-after-milliseconds {master} 1000\n"
                f"sentinel failover-timeout {master} 5000\n"
                f"sentinel parallel-syncs {master} 1\n"
            )
            return ["redis-server", str(conf), "--sentinel", "--loglevel", "notice"]
        cmd = [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--loglevel", "notice" if self.replica_of or self.sentinel_of else "warning",
        ]  # fmt: skip
        if self.replica_of is not None:
            cmd += ["--replicaof", "127.0.0.1", str(self.replica_of.port)]
        # Full syncs stream straight to the replica, at once (no RDB file in the work tree).
        cmd += ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"]
        cmd += ["--repl-diskless-load", "on-empty-db"]
        return cmd

    def start(self) -> RedisServer:
        """Call from the main thread: the child gets PR_SET_PDEATHSIG (bench.servers), which
        fires when the *thread* that started it exits, e.g. an asyncio.to_thread worker."""
        self.process = ServerProcess(
            self.name, self.command(), os.environ, self.port, append_log=True
        ).start(timeout=15)
        self.paused = False
        return self

    @property
    def running(self) -> bool:
        proc = self.process.proc if self.process is not None else None
        return proc is not None and proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, every connection drops; without persistence all data is gone."""
        assert self.process is not None and self.process.proc is not None
        self.process.proc.send_signal(signal.SIGKILL)
        self.process.proc.wait(timeout=10)
        self.process.proc = None

    def pause(self) -> None:
        assert self.process is not None and self.process.proc is not None
        self.process.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.paused and self.process is not None and self.process.proc is not None:
            self.process.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=5)

    def flushall(self) -> None:
        self.client().flushall()

    def stop(self) -> None:
        self.resume()
        if self.process is not None:
            self.process.stop()


def _reset_celery_pools() -> None:
    from kanban_board.celery import app as celery_app

    celery_app._pool = None  # connection pools are cached per broker URL
    celery_app.amqp._producer_pool = None


@contextmanager
def publishing_to(url: str) -> Iterator[None]:
    """This process's Celery app publishes for real (not eagerly) to `url`."""
    from kanban_board.celery import app as celery_app

    conf = celery_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager = False
    conf.broker_url = url
    _reset_celery_pools()
    try:
        yield
    finally:
        conf.task_always_eager, conf.broker_url = saved
        _reset_celery_pools()

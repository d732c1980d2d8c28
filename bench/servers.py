"""The processes under test: daphne (our app or the baseline app), the raw websockets server,
and a Celery worker. Each runs in its own process group on loopback and dies with the bench:
`stop()` kills the whole group, and the kernel kills it too if the bench itself is killed
(PR_SET_PDEATHSIG)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / ".test-logs" / "bench"  # .test-logs/ is git-ignored
CLK_TCK = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child_setup() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # 1,000 idle sockets need more than the usual 1,024 descriptors
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- /proc readings ---------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (not its children), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class MachineMeter:
    """Whole-machine CPU use between start() and read(), from /proc/stat: how busy every
    process made the CPUs (ours and everyone else's) and how much the hypervisor stole."""

    def __init__(self) -> None:
        self.t0 = self._sample()
        self.wall0 = time.monotonic()
        self.seconds = 0.0

    @staticmethod
    def _sample() -> list[int]:
        with open("/proc/stat") as f:
            return [int(x) for x in f.readline().split()[1:9]]

    def read(self) -> dict[str, float]:
        t1 = self._sample()
        self.seconds = time.monotonic() - self.wall0
        d = [b - a for a, b in zip(self.t0, t1, strict=True)]
        total = sum(d) or 1
        idle = d[3] + d[4]
        return {
            "busy_percent": 100.0 * (total - idle) / total,
            "steal_percent": 100.0 * d[7] / total,
            "load_avg_1m": os.getloadavg()[0],
        }


def runqueue_wait_seconds(pid: int) -> float:
    """Time the process's main thread (daphne's event loop) spent runnable but waiting for a
    CPU (schedstat field 2): on a shared machine, what other processes' load costs it."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


class CpuMeter:
    """CPU % of one core used by a process (all threads) between start() and read();
    `waited()` is the % of that time its main thread sat runnable in the run queue."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start()

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.c0 = cpu_seconds(self.pid)
        self.w0 = runqueue_wait_seconds(self.pid)
        self.dt = 0.0
        self.w1 = self.w0

    def read(self) -> float:
        self.dt = time.monotonic() - self.t0
        self.w1 = runqueue_wait_seconds(self.pid)
        return 100.0 * (cpu_seconds(self.pid) - self.c0) / self.dt if self.dt > 0 else float("nan")

    def waited(self) -> float:
        return 100.0 * (self.w1 - self.w0) / self.dt if self.dt > 0 else float("nan")


# --- processes --------------------------------------------------------------------------


class ServerProcess:
    """A child process in its own process group, with its output in a log file."""

    def __init__(
        self,
        name: str,
        cmd: list[str],
        env: Mapping[str, str],
        port: int,
        *,
        log_path: Path | None = None,
        append_log: bool = False,
    ) -> None:
        self.name = name
        self.cmd = cmd
        self.env = dict(env)
        self.port = port
        self.log_path = log_path or LOG_DIR / f"{name}-{port}.log"
        # A restarted server may keep one log (tests read it from remembered offsets).
        self.append_log = append_log
        self.proc: subprocess.Popen | None = None
        self.seen: dict[str, int] = {}

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, *, timeout: float = 30.0, ready_line: str | None = None) -> ServerProcess:
        self.spawn()
        try:
            if ready_line:
                self._wait_for_line(ready_line, timeout)
            else:
                self._wait_for_port(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def spawn(self) -> ServerProcess:
        """Start the process without waiting for it. Call from a thread that outlives it: the
        kernel kills the child when the thread that started it exits (PR_SET_PDEATHSIG)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab" if self.append_log else "wb") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_child_setup,
            )
        return self

    def _check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            code = self.proc.returncode
            raise RuntimeError(
                f"{self.name} exited with {code}; last log lines:\n{self.log_tail()}"
            )

    def _wait_for_port(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not listen on {self.port} within {timeout}s")

    def _wait_for_line(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if text in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise RuntimeError(
            f"{self.name} did not log {text!r} within {timeout}s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def new_log_lines(self, text: str) -> int:
        """How many log lines containing `text` appeared since the last call."""
        try:
            count = sum(
                text in line for line in self.log_path.read_text(errors="replace").splitlines()
            )
        except OSError:
            return 0
        new = count - self.seen.get(text, 0)
        self.seen[text] = count
        return new

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after 5 s."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                # The leader is gone; make sure no group member (worker children) outlives it.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                break
            except subprocess.TimeoutExpired:
                continue
        if proc.poll() is None:
            proc.wait(timeout=5)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def base_env(*, redis_url: str | None, database_url: str | None) -> dict[str, str]:
    """Production-like settings for the children: DEBUG off (no query log), plain HTTP."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="kanban_board.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=env.get("BENCH_SECRET_KEY", "bench-" + os.urandom(16).hex()),
        DJANGO_SECURE_COOKIES="0",
        DJANGO_LOG_LEVEL="INFO",  # channels-redis logs "over capacity" at INFO
        PYTHONUNBUFFERED="1",
        # Per-user send limits are a policy, not a capacity: keep the limiter running (its
        # cache calls are part of the cost) but too high to refuse the bench's load.
        CHAT_RATE_LIMIT=env.get("BENCH_CHAT_RATE_LIMIT", "1000000/1s"),
        TYPING_RATE_LIMIT=env.get("BENCH_TYPING_RATE_LIMIT", "1000000/1s"),
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def daphne(
    name: str, app: str, env: Mapping[str, str], *, port: int | None = None
) -> ServerProcess:
    port = port or free_port()
    cmd = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app]
    return ServerProcess(name, cmd, env, port)


def our_app(env: Mapping[str, str]) -> ServerProcess:
    """Our app, launched as production launches it: `python -m kanban_board.serve`."""
    port = free_port()
    cmd = [sys.executable, "-m", "kanban_board.serve", "-b", "127.0.0.1", "-p", str(port)]
    return ServerProcess("daphne-ours", cmd, env, port)


def baseline_app(env: Mapping[str, str], layer: str) -> ServerProcess:
    return daphne(
        f"daphne-bare-{layer}", "bench.asgi_baseline:application", {**env, "BENCH_LAYER": layer}
    )


def raw_server(env: Mapping[str, str]) -> ServerProcess:
    port = free_port()
    cmd = [sys.executable, "-m", "bench.raw_server", "--port", str(port)]
    return ServerProcess("raw-websockets", cmd, env, port)


def celery_worker(env: Mapping[str, str]) -> ServerProcess:
    """`make worker`'s worker (prefork, one process per core), under a bench node name."""
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "kanban_board",
        "worker",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"bench-{os.getpid()}@%h",
    ]
    return ServerProcess("celery-worker", cmd, env, 0)

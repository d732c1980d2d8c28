"""Smoke test of the realtime benchmark: the bare-consumer and raw-server scenarios for a few
seconds with a handful of clients. Every message must reach every client, and the tables must
be printed. (The full run is `make bench`; `.ci/run` also runs `make bench-quick`.)"""

import json
import os
import time
from io import StringIO
from urllib.parse import urlsplit, urlunsplit

import pytest

from bench.cli import main as bench_main


def bench_redis_url(redis_url: str) -> str:
    """The same Redis server, but a DB of the smoke test's own: the bench empties its DB and
    claims it for the run, so `make bench` (DB 3) and this test never share one."""
    db = os.environ.get("BENCH_SMOKE_REDIS_DB", "4")
    return urlunsplit(urlsplit(redis_url)._replace(path=f"/{db}"))


def wait_until_unclaimed(url: str, timeout: float = 120.0) -> None:
    """Another run (a colleague's test session) may hold the DB: wait for it, then skip."""
    import redis

    from bench.redisdb import CLAIM_KEY

    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + timeout
    while client.exists(CLAIM_KEY):
        if time.monotonic() > deadline:
            pytest.skip(f"{url} stayed claimed by another bench run: {client.get(CLAIM_KEY)}")
        time.sleep(1)


@pytest.mark.services
def test_bare_consumer_and_raw_server_deliver_every_message(redis_url, tmp_path):
    url = bench_redis_url(redis_url)
    wait_until_unclaimed(url)
    out = StringIO()
    json_out = tmp_path / "bench.json"
    status = bench_main(
        [
            "--only=raw,bare",
            "--clients=6",
            "--procs=2",
            "--repeat=1",
            "--steps=10,30",
            "--duration=1",
            "--warmup=0.5",
            "--drain=3",
            "--echo-seconds=2",
            f"--redis-url={url}",
            f"--json-out={json_out}",
            f"--plot={tmp_path / 'bench.png'}",
        ],
        out,
    )
    assert status == 0
    printed = out.getvalue()
    results = json.loads(json_out.read_text())

    for target in ("raw", "bare"):
        (run,) = results["runs"]
        steps = run["targets"][target]["steps"]
        assert steps, target
        for s in steps:
            assert s["sent"] > 0
            assert s["reach"] == 1.0, (target, s)
        assert f"-- {target}: rate sweep" in printed
        assert run["targets"][target]["echo_samples"] >= 1
    assert "rate/s" in printed and "deliv/s" in printed and "p99 ms" in printed
    assert "== summary, room of 6 sockets" in printed
    assert (tmp_path / "bench.png").stat().st_size > 0

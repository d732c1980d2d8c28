"""Smoke test of the realtime benchmark: the bare-consumer and raw-server scenarios for a few
seconds with a handful of clients. Every message must reach every client, and the tables must
be printed. (The full run is `make bench`; CI runs `make bench-quick`.)"""

import json
import os
from io import StringIO
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.management import call_command


def bench_redis_url(redis_url: str) -> str:
    """The same Redis server, but the bench's own DB (the bench empties it)."""
    db = os.environ.get("BENCH_REDIS_DB", "3")
    return urlunsplit(urlsplit(redis_url)._replace(path=f"/{db}"))


@pytest.mark.services
def test_bare_consumer_and_raw_server_deliver_every_message(redis_url, tmp_path):
    out = StringIO()
    json_out = tmp_path / "bench.json"
    call_command(
        "bench_realtime",
        "--only=raw,bare",
        "--clients=6",
        "--procs=2",
        "--steps=10,30",
        "--duration=1",
        "--warmup=0.5",
        "--drain=3",
        "--echo-seconds=2",
        f"--redis-url={bench_redis_url(redis_url)}",
        f"--json-out={json_out}",
        stdout=out,
    )
    printed = out.getvalue()
    results = json.loads(json_out.read_text())

    for target in ("raw", "bare"):
        steps = results["targets"][target]["steps"]
        assert steps, target
        for s in steps:
            assert s["sent"] > 0
            assert s["reach"] == 1.0, (target, s)
        assert f"-- {target}: rate sweep" in printed
        assert results["targets"][target]["echo_samples"] >= 1
    assert "rate/s" in printed and "deliv/s" in printed and "p99 ms" in printed
    assert "bare consumer / raw websockets:" in printed

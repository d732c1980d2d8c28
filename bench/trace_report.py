"""Per-stage latency of chat messages from bench/asgi_trace.py logs.

Run: python -m bench.trace_report DIR   (the --trace folder of a bench run)
"""

from __future__ import annotations

import glob
import os
import sys
from collections import defaultdict

from .report import percentile

# (label, from-stage, to-stage); "send" is the client's timestamp in the token, "F0"/"F1" the
# first and last socket's forward.
SPANS = (
    ("client send -> consumer.receive", "send", "R0"),
    ("receive -> rate-limit check done", "R0", "L1"),
    ("access check (session + membership, DB thread)", "A0", "A1"),
    ("access check done -> post_chat_message starts (hop)", "A1", "P0"),
    ("post_chat_message until broadcast_now (queries, insert, COMMIT)", "P0", "B0"),
    ("broadcast_now: async_to_sync(group_send)", "B0", "B1"),
    ("group_send done -> first socket's forward", "B1", "F0"),
    ("first -> last socket's forward (fan-out)", "F0", "F1"),
    ("total: client send -> last forward", "send", "F1"),
)


def load(folder: str) -> dict[str, dict[str, list[int]]]:
    events: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for path in glob.glob(os.path.join(folder, "trace-*.log")):
        with open(path) as f:
            for line in f:
                t, stage, token = line.split()
                events[token][stage].append(int(t))
    return events


def summarize(folder: str) -> str:
    by_step: dict[str, list[dict[str, float]]] = defaultdict(list)
    for token, stages in load(folder).items():
        step, _sender, _seq, sent = token.split(":")
        times = {k: min(v) for k, v in stages.items()}
        times["send"] = int(sent)
        if stages.get("F"):
            times["F0"], times["F1"] = min(stages["F"]), max(stages["F"])
        spans = {}
        for label, a, b in SPANS:
            if a in times and b in times:
                spans[label] = (times[b] - times[a]) / 1e6
        by_step[step].append(spans)
    lines = []
    for step in sorted(by_step):
        rows = by_step[step]
        lines.append(f"step {step}: {len(rows)} messages traced (ms: p50 / p90)")
        for label, _a, _b in SPANS:
            values = sorted(r[label] for r in rows if label in r)
            if values:
                p50, p90 = percentile(values, 50), percentile(values, 90)
                lines.append(f"  {p50:8.2f} / {p90:8.2f}  {label}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(sys.argv[1]))

"""Pure arithmetic and text for benchmark results: percentiles, the knee, tables, verdicts.

No I/O besides returning strings, so it is tested without servers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

P99_LIMIT_MS = 250.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between ranks (numpy's default).

    `values` must be sorted. NaN for an empty sequence."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    pos = (len(values) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(values) - 1)
    frac = pos - lo
    return values[lo] + (values[hi] - values[lo]) * frac


@dataclass
class StepResult:
    """One rate step against one target. Latencies in milliseconds."""

    target: str
    rate: float  # messages/s requested (total over all senders)
    seconds: float  # send window actually used
    sent: int
    members: int  # sockets in the room: each message is owed to every one of them
    received: int  # deliveries that arrived within the drain window
    deliveries_per_s: float
    p50: float
    p95: float
    p99: float
    max: float
    late: int = 0  # deliveries that arrived after the drain window
    server_cpu: float = math.nan  # % of one core, the server process
    server_wait: float = math.nan  # % of wall time its main thread waited for a CPU (run queue)
    generator_cpu: float = math.nan  # % of one core, the busiest client process
    machine_busy: float = math.nan  # % of all CPUs busy (every process on the machine)
    sender_lag_ms: float = 0.0  # how far the busiest sender fell behind its schedule
    refused: int = 0  # sends refused with slow_down (nothing saved, so nothing owed)
    recovered: int = 0  # deliveries that came only through the clients' back-fill
    backfilled: bool = False  # the clients back-fill (ours): `lost` is after back-fill
    backfill_p50: float = math.nan  # history ?after= requests while the step sent, ms
    backfill_p99: float = math.nan
    backfill_n: int = 0
    backfill_failed: int = 0  # back-fill requests that failed after the step (then retried)
    unsynced: int = 0  # sockets whose back-fill never succeeded: their `lost` is unverified
    notes: list[str] = field(default_factory=list)

    @property
    def expected(self) -> int:
        return (self.sent - self.refused) * self.members

    @property
    def lost(self) -> int:
        """Deliveries owed that never arrived. For ours the clients back-fill after the drain
        window, so whatever had not arrived live by then is recovered or lost; for the
        baselines (no history) a delivery after the drain window counts as late, not lost."""
        if self.backfilled:
            return max(0, self.expected - self.received - self.recovered)
        return max(0, self.expected - self.received - self.late)

    @property
    def reach(self) -> float:
        return self.received / self.expected if self.expected else math.nan

    def passes(self, p99_limit_ms: float = P99_LIMIT_MS) -> bool:
        return self.expected > 0 and self.received == self.expected and self.p99 <= p99_limit_ms

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(expected=self.expected, reach=self.reach, passes=self.passes(), lost=self.lost)
        return d


def summarize_latencies(latencies_ms: Sequence[float]) -> dict[str, float]:
    ordered = sorted(latencies_ms)
    return {
        "p50": percentile(ordered, 50),
        "p95": percentile(ordered, 95),
        "p99": percentile(ordered, 99),
        "max": ordered[-1] if ordered else math.nan,
        "n": len(ordered),
    }


def find_knee(steps: Iterable[StepResult], p99_limit_ms: float = P99_LIMIT_MS) -> StepResult | None:
    """The highest-rate step with p99 within the limit and every delivery made (reach 1.000)."""
    passing = [s for s in steps if s.passes(p99_limit_ms)]
    return max(passing, key=lambda s: s.rate) if passing else None


def ratio(a: float | None, b: float | None) -> float:
    if a is None or b is None or not b or math.isnan(a) or math.isnan(b):
        return math.nan
    return a / b


# --- text -------------------------------------------------------------------------------


def fmt(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


STEP_COLUMNS = (
    ("rate/s", 7),
    ("sent", 6),
    ("deliv/s", 9),
    ("p50 ms", 8),
    ("p95 ms", 8),
    ("p99 ms", 8),
    ("max ms", 8),
    ("reach", 6),
    ("refused", 7),
    ("recov", 6),
    ("lost", 5),
    ("bf p99", 7),
    ("srv CPU", 7),
    ("srv wait", 8),
    ("gen CPU", 7),
    ("machine", 7),
    ("ok", 4),
)


def step_table(title: str, steps: Sequence[StepResult], p99_limit_ms: float = P99_LIMIT_MS) -> str:
    """A fixed-width table of the steps of one target, with the reasons for any reach < 1.
    srv CPU: the server process (% of one core); srv wait: % of the time its main thread
    (the event loop) sat runnable waiting for a CPU (starved by other processes); gen CPU:
    the busiest client process; machine: % of all CPUs busy during the step, every process
    counted. refused: sends answered slow_down; recov: deliveries that came only through the
    clients' ?after= back-fill; lost: owed and never arrived, live or back-filled; bf p99:
    history back-fill requests made while the step sent."""
    lines = [title]
    header = " ".join(name.rjust(width) for name, width in STEP_COLUMNS)
    lines += [header, "-" * len(header)]
    for s in steps:
        cells = (
            fmt(s.rate, 0),
            str(s.sent),
            fmt(s.deliveries_per_s, 0),
            fmt(s.p50),
            fmt(s.p95),
            fmt(s.p99),
            fmt(s.max),
            fmt(s.reach, 3),
            str(s.refused),
            str(s.recovered) if s.backfilled else "-",
            str(s.lost),
            fmt(s.backfill_p99),
            fmt(s.server_cpu, 0) + "%",
            fmt(s.server_wait, 0) + "%",
            fmt(s.generator_cpu, 0) + "%",
            fmt(s.machine_busy, 0) + "%",
            "yes" if s.passes(p99_limit_ms) else "NO",
        )
        lines.append(" ".join(c.rjust(w) for c, (_, w) in zip(cells, STEP_COLUMNS, strict=True)))
        for note in step_explanations(s, p99_limit_ms):
            lines.append(f"        ^ {note}")
    knee = find_knee(steps, p99_limit_ms)
    if knee:
        lines.append(
            f"knee: {fmt(knee.rate, 0)} msgs/s -> {fmt(knee.deliveries_per_s, 0)} deliveries/s "
            f"(p99 {fmt(knee.p99)} ms)"
        )
    else:
        lines.append(f"knee: none (no step had reach 1.000 and p99 <= {p99_limit_ms:.0f} ms)")
    return "\n".join(lines)


def step_explanations(s: StepResult, p99_limit_ms: float = P99_LIMIT_MS) -> list[str]:
    """Why a step failed, in words: missing deliveries split into late and never-arrived."""
    out: list[str] = []
    missing = s.expected - s.received
    if missing > 0:
        parts = [f"reach {s.reach:.3f}: {missing} of {s.expected} deliveries not live in time"]
        if s.backfilled:
            parts.append(f"{s.recovered} came through the clients' back-fill")
        elif s.late:
            parts.append(f"{s.late} arrived after the drain window (server backlog)")
        if s.lost:
            parts.append(f"{s.lost} never arrived (lost)")
        out.append("; ".join(parts))
    elif s.expected == 0:
        out.append("nothing was sent")
    if s.p99 > p99_limit_ms:
        out.append(f"p99 {fmt(s.p99)} ms > {p99_limit_ms:.0f} ms")
    out.extend(s.notes)
    return out


def verdict(ok: bool | None, text: str) -> str:
    label = {True: "PASS", False: "FAIL", None: "N/A "}[ok]
    return f"[{label}] {text}"

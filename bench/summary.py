"""The end of a run: per room size, the median over the interleaved repetitions of each
target's knee, echo and loss; same-run ratios; and the issue's targets with PASS/FAIL."""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Any

from . import report
from .report import fmt, verdict

if TYPE_CHECKING:
    from .scenarios import Bench, SweepResult

# The targets (issue 16).
KNEE_RATIO_TARGETS = {20: 0.8, 100: 0.9}
ECHO_RATIO_TARGET = 1.2
MENTION_P99_MS = 300.0
BACKFILL_P99_MS = 250.0


def knee_ratio_verdict(a: SweepResult, b: SweepResult, at_least: float) -> tuple[bool | None, str]:
    """Whether a's knee is >= at_least x b's, or None when the sweep cannot tell: a knee with
    no failing step above it is only a floor (the steps ran out, not the capacity)."""
    if a.knee is None and b.knee is None:
        return None, "neither passed any step"
    if a.knee is None:
        return False, "ours passed no step"
    if b.knee is None:
        return True, "the baseline passed no step"
    r = a.knee.deliveries_per_s / b.knee.deliveries_per_s
    if r >= at_least:
        if b.knee_is_floor:
            return None, "inconclusive: the baseline's knee is only a floor (no step failed)"
        return True, ""
    if a.knee_is_floor:
        return None, "inconclusive: our knee is only a floor (no step failed)"
    return False, ""


def median(values: list[float]) -> float:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def knee_rate(r: SweepResult | None) -> float:
    return r.knee_rate if r is not None and r.knee_rate is not None else math.nan


def size_summary(runs: list[dict[str, Any]], size: int) -> dict[str, Any]:
    """Medians over the repetitions of one room size, plus the per-repetition ratios."""
    reps = [run["targets"] for run in runs if run["size"] == size]
    out: dict[str, Any] = {"size": size, "repetitions": len(reps), "targets": {}}
    names = sorted({name for rep in reps for name in rep})
    for name in names:
        results = [rep.get(name) for rep in reps]
        out["targets"][name] = {
            "knee_deliveries_per_s": median([knee_rate(r) for r in results]),
            "knee_each": [knee_rate(r) for r in results],
            "floor": any(r is not None and r.knee_is_floor for r in results),
            "peak_deliveries_per_s": median([r.peak_rate or math.nan for r in results if r]),
            "echo_p50_ms": median([r.echo_p50 for r in results if r]),
            "errors": [r.error for r in results if r and r.error],
        }
    ratios: dict[str, list[float]] = {"ours/bare": [], "ours/raw": [], "echo ours/bare": []}
    for rep in reps:
        ours, bare, raw = rep.get("ours"), rep.get("bare"), rep.get("raw")
        ratios["ours/bare"].append(report.ratio(knee_rate(ours), knee_rate(bare)))
        ratios["ours/raw"].append(report.ratio(knee_rate(ours), knee_rate(raw)))
        if ours and bare:
            ratios["echo ours/bare"].append(report.ratio(ours.echo_p50, bare.echo_p50))
    out["ratios_each"] = ratios
    out["ratios"] = {k: median(v) for k, v in ratios.items()}
    ours_runs = [rep["ours"] for rep in reps if rep.get("ours")]
    ours_steps = [s for r in ours_runs for s in r.steps] + [
        r.overload for r in ours_runs if r.overload
    ]
    ours_steps += [r.history_step for r in ours_runs if r.history_step]
    out["ours_lost"] = sum(s.lost for s in ours_steps)
    out["ours_recovered"] = sum(s.recovered for s in ours_steps)
    out["ours_refused"] = sum(s.refused for s in ours_steps)
    out["ours_backfill_failed"] = sum(s.backfill_failed for s in ours_steps)
    out["ours_unsynced"] = sum(s.unsynced for s in ours_steps)
    overloads = [r.overload for r in ours_runs if r.overload]
    out["overload"] = [
        {
            "rate": s.rate,
            "sent": s.sent,
            "refused": s.refused,
            "received": s.received,
            "recovered": s.recovered,
            "lost": s.lost,
            "backfill_failed": s.backfill_failed,
            "unsynced": s.unsynced,
        }
        for s in overloads
    ]
    probes = [r.history_step for r in ours_runs if r.history_step]
    out["backfill_p99_at_knee_ms"] = median([h.backfill_p99 for h in probes])
    out["backfill_p99_each"] = [h.backfill_p99 for h in probes]
    return out


def print_summary(bench: Bench) -> None:
    cfg = bench.cfg
    verdicts: list[dict[str, Any]] = []
    enforced: list[str] = []

    def add(ok: bool | None, text: str) -> None:
        verdicts.append({"ok": ok, "text": text})
        bench.emit("   " + verdict(ok, text))

    sizes = {}
    for size in cfg.rooms:
        if not any(run["size"] == size for run in bench.runs):
            continue
        s = sizes[size] = size_summary(bench.runs, size)
        bench.emit("")
        bench.emit(
            f"== summary, room of {size} sockets: median of {s['repetitions']} interleaved "
            f"repetition(s); knee = highest step with reach 1.000 and p99 <= "
            f"{cfg.p99_limit_ms:g} ms"
        )
        for name, t in s["targets"].items():
            each = ", ".join(fmt(v, 0) for v in t["knee_each"])
            bench.emit(
                f"   {name:6} knee {'>=' if t['floor'] else '  '}"
                f"{fmt(t['knee_deliveries_per_s'], 0):>8} deliv/s  (each: {each})   peak "
                f"{fmt(t['peak_deliveries_per_s'], 0):>8}   echo p50 {fmt(t['echo_p50_ms'], 2)} ms"
                + (f"   [{'; '.join(t['errors'])}]" if t["errors"] else "")
            )
        for key, value in s["ratios"].items():
            each = ", ".join(fmt(v, 2) for v in s["ratios_each"][key])
            bench.emit(f"   {key}: {fmt(value, 2)}x (same-run ratios: {each})")
        bench.emit(
            f"   ours, every step and the {cfg.overload_factor:g}x-knee step: "
            f"{s['ours_refused']} sends refused with slow_down, {s['ours_recovered']} "
            f"deliveries recovered by back-fill, {s['ours_lost']} lost; "
            f"{s['ours_backfill_failed']} back-fill requests failed and were retried, "
            f"{s['ours_unsynced']} sockets never completed one"
        )
        for o in s["overload"]:
            bench.emit(
                f"   overload {fmt(o['rate'], 0)} msgs/s: sent {o['sent']}, refused "
                f"{o['refused']}, delivered live {o['received']}, recovered {o['recovered']}, "
                f"lost {o['lost']} (back-fill requests failed {o['backfill_failed']}, "
                f"sockets unsynced {o['unsynced']})"
            )
        if s["ours_lost"]:
            enforced.append(
                f"room of {size}: {s['ours_lost']} deliveries lost after back-fill (silent loss)"
            )
        ours_wanted = "ours" in cfg.targets
        if ours_wanted and ("ours" not in s["targets"] or s["targets"]["ours"]["errors"]):
            enforced.append(f"room of {size}: ours was not measured")
    bench.results["summary"] = {str(k): v for k, v in sizes.items()}

    bench.emit("")
    bench.emit("targets (issue 16):")
    if cfg.quick:
        bench.emit(
            "   (--quick is a smoke run: the ratios are printed, not enforced; it enforces "
            "only 'no silent loss' here and the query guard in the test suite)"
        )
    for size, at_least in KNEE_RATIO_TARGETS.items():
        s = sizes.get(size)
        if s is None:
            add(None, f"ours/bare at the knee, {size}-member room >= {at_least}x: not run")
            continue
        r = s["ratios"]["ours/bare"]
        floor = s["targets"].get("bare", {}).get("floor") and not r >= at_least
        add(
            None if math.isnan(r) else (r >= at_least if not floor else None),
            f"ours/bare deliveries/s at the knee, {size}-member room >= {at_least}x: {fmt(r, 2)}x",
        )
    s20 = sizes.get(20) or next(iter(sizes.values()), None)
    if s20 is not None:
        r = s20["ratios"]["echo ours/bare"]
        add(
            None if math.isnan(r) else r <= ECHO_RATIO_TARGET,
            f"echo p50 at 1 msg/s, {s20['size']}-member room <= {ECHO_RATIO_TARGET}x bare's: "
            f"{fmt(r, 2)}x ({fmt(s20['targets'].get('ours', {}).get('echo_p50_ms'), 2)} vs "
            f"{fmt(s20['targets'].get('bare', {}).get('echo_p50_ms'), 2)} ms)",
        )
    m = bench.results.get("mention")
    if m is not None:
        if m.get("error"):
            add(None, f"mention POST->notification p99 < {MENTION_P99_MS:g} ms: {m['error']}")
        else:
            complete = m["matched"] == m["posts"]
            add(
                complete and m["p99"] < MENTION_P99_MS,
                f"mention POST->notification p99 < {MENTION_P99_MS:g} ms at "
                f"{cfg.mention_rate:g} posts/s: {fmt(m['p99'])} ms (Celery leg p99 "
                f"{fmt(m['after_post_p99'])} ms), reach {m['matched']}/{m['posts']}",
            )
    if sizes:
        lost = sum(s["ours_lost"] for s in sizes.values())
        add(
            lost == 0,
            f"deliveries lost at {cfg.overload_factor:g}x the knee (and every step), after "
            f"back-fill as the page does: {lost}",
        )
        bf = [s["backfill_p99_at_knee_ms"] for s in sizes.values()]
        worst = max((v for v in bf if not math.isnan(v)), default=math.nan)
        add(
            None if math.isnan(worst) else worst < BACKFILL_P99_MS,
            f"history back-fill p99 while the room takes posts at the knee < "
            f"{BACKFILL_P99_MS:g} ms: {fmt(worst)} ms (worst room size; "
            + ", ".join(f"{k}: {fmt(s['backfill_p99_at_knee_ms'])}" for k, s in sizes.items())
            + ")",
        )
    h = bench.results.get("history")
    if h is not None and not h.get("error"):
        r = h["deep_ms"] / h["first_ms"]
        add(
            r <= 1.5 and h["deep_is_older"],
            f"deep history page <= 1.5x first page: {r:.2f}x ({h['deep_ms']:.2f} vs "
            f"{h['first_ms']:.2f} ms at {h['rows']:,} rows)",
        )
    bench.emit(
        "   SQL queries per chat message on the socket path <= 4: enforced by "
        "messaging/tests/test_hot_path.py (every tier; make bench-quick runs it too)"
    )
    bench.results["verdicts"] = verdicts
    bench.results["enforced_failures"] = enforced

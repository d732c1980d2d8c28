"""The end of a run: knees side by side, ratios between targets, PASS/FAIL per target."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from . import report
from .config import SWEEP_TARGETS
from .report import fmt, verdict

if TYPE_CHECKING:
    from .scenarios import Bench, SweepResult


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


def print_summary(bench: Bench) -> None:
    cfg = bench.cfg
    s = bench.sweeps_by_target
    bench.emit("")
    bench.emit(
        "== summary: deliveries/s at the knee (highest step with reach 1.000 and "
        f"p99 <= {cfg.p99_limit_ms:g} ms) and peak over all steps"
    )
    rows = []
    for name in SWEEP_TARGETS:
        if name not in s:
            continue
        r = s[name]
        k = r.knee
        floor = ">=" if r.knee_is_floor else "  "
        rows.append(
            f"   {name:8} knee {floor}{fmt(k.rate if k else None, 0):>6} msgs/s = "
            f"{fmt(r.knee_rate, 0):>8} deliv/s (p99 {fmt(k.p99 if k else None)} ms)   "
            f"peak {fmt(r.peak_rate, 0):>8} deliv/s   echo p50 {fmt(r.echo_p50, 2)} ms"
            + (f"   [{r.error}]" if r.error else "")
        )
    for row in rows:
        bench.emit(row)
    if any(r.knee_is_floor for r in s.values()):
        bench.emit(
            "   (>= : no step failed, so the knee is only a floor: the offered load ran out "
            "before the capacity did; add higher --steps)"
        )
    ratios: dict[str, float] = {}

    def pair(a: str, b: str, label: str) -> None:
        if a in s and b in s:
            knee = report.ratio(s[a].knee_rate, s[b].knee_rate)
            peak = report.ratio(s[a].peak_rate, s[b].peak_rate)
            ratios[f"{a}/{b}"] = knee
            ratios[f"{a}/{b} peak"] = peak
            bench.emit(f"   {label}: {fmt(knee, 2)}x at the knee, {fmt(peak, 2)}x at peak")

    bench.emit("ratios:")
    pair("ours", "bare", "our consumer / bare consumer")
    pair("ours", "raw", "our consumer / raw websockets")
    pair("bare", "raw", "bare consumer / raw websockets")
    pair("pubsub", "bare", "RedisPubSubChannelLayer / RedisChannelLayer (bare)")
    pair("memory", "bare", "InMemoryChannelLayer / RedisChannelLayer (bare)")
    pair("bare-fwd", "bare", "DIAGNOSTIC bare-fwd / bare consumer")
    pair("ours-exp", "ours", f"EXPERIMENT ours-exp [{bench.cfg.experiment}] / ours")
    pair("ours-exp", "bare", f"EXPERIMENT ours-exp [{bench.cfg.experiment}] / bare consumer")
    bench.results["ratios"] = ratios

    bench.emit("targets:")
    if cfg.quick:
        bench.emit(
            "   (--quick is a smoke run: 20 sockets, three 4x-apart steps of 1.5 s; its verdicts "
            "show the plumbing works, the full run is the measurement)"
        )
    verdicts = []

    def add(ok: bool | None, text: str) -> None:
        verdicts.append({"ok": ok, "text": text})
        bench.emit("   " + verdict(ok, text))

    ours, bare = s.get("ours"), s.get("bare")
    if ours and bare:
        r = report.ratio(ours.knee_rate, bare.knee_rate)
        ok, why = knee_ratio_verdict(ours, bare, 0.8)
        add(
            ok,
            f"our consumer >= 0.8x bare consumer deliveries/s at the knee: {fmt(r, 2)}x "
            f"({fmt(ours.knee_rate, 0)} vs {fmt(bare.knee_rate, 0)})" + (f"; {why}" if why else ""),
        )
        ceiling = max(bare.knee_rate or 0, (s["raw"].knee_rate or 0) if "raw" in s else 0)
        if (bare.knee_rate or 0) >= 5000:
            add(
                (ours.knee_rate or 0) >= 5000,
                f">= 5,000 deliveries/s absolute: {fmt(ours.knee_rate, 0)}",
            )
        else:
            add(
                None,
                f">= 5,000 deliveries/s absolute: not applicable, the bare consumer's own "
                f"knee is {fmt(bare.knee_rate, 0)} deliveries/s here (raw ceiling "
                f"{fmt(ceiling, 0)}); ours {fmt(ours.knee_rate, 0)}",
            )
    else:
        add(None, "our consumer vs bare consumer: not measured (needs targets ours and bare)")
    if ours:
        add(
            None if math.isnan(ours.echo_p50) else ours.echo_p50 < 5,
            f"echo p50 < 5 ms at 1 msg/s: {fmt(ours.echo_p50, 2)} ms (n={ours.echo_n})",
        )
    m = bench.results.get("mention")
    if m is not None:
        if m.get("error"):
            add(None, f"mention POST->notification p99 < 300 ms: {m['error']}")
        else:
            complete = m["matched"] == m["posts"]
            add(
                complete and m["p99"] < 300,
                f"mention POST->notification p99 < 300 ms at {cfg.mention_rate:g} posts/s: "
                f"{fmt(m['p99'])} ms, reach {m['matched']}/{m['posts']}",
            )
    h = bench.results.get("history")
    if h is not None:
        if h.get("error"):
            add(None, f"deep history page <= 1.5x first page: not measured: {h['error']}")
        else:
            r = h["deep_ms"] / h["first_ms"]
            add(
                r <= 1.5 and h["deep_is_older"],
                f"deep history page <= 1.5x first page: {r:.2f}x ({h['deep_ms']:.2f} vs "
                f"{h['first_ms']:.2f} ms at {h['rows']:,} rows)",
            )
    bench.results["verdicts"] = verdicts

"""docs/bench.png: deliveries/s and p99 against offered load for raw, bare and ours, one row
per room size (matplotlib, no display needed)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from typing import Any

COLORS = {"raw": "#2ca02c", "bare": "#1f77b4", "ours": "#d62728"}


def _median_by_rate(results: list[Any]) -> tuple[list[float], list[float], list[float]]:
    """Per offered rate (msgs/s), the median deliveries/s and p99 over the repetitions."""
    by_rate: dict[float, list[Any]] = defaultdict(list)
    for r in results:
        for s in r.steps:
            by_rate[s.rate].append(s)
    rates = sorted(by_rate)
    deliv = [_median([s.deliveries_per_s for s in by_rate[x]]) for x in rates]
    p99 = [_median([s.p99 for s in by_rate[x]]) for x in rates]
    return rates, deliv, p99


def _median(values: list[float]) -> float:
    values = [v for v in values if v is not None and not math.isnan(v) and v > 0]
    return statistics.median(values) if values else math.nan


def write_chart(runs: list[dict[str, Any]], path: str, *, p99_limit_ms: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({run["size"] for run in runs})
    if not sizes:
        raise RuntimeError("no sweeps to plot")
    fig, axes = plt.subplots(len(sizes), 2, figsize=(11, 3.8 * len(sizes)), squeeze=False)
    for row, size in enumerate(sizes):
        ax_d, ax_p = axes[row]
        for target in ("raw", "bare", "ours"):
            results = [run["targets"].get(target) for run in runs if run["size"] == size]
            results = [r for r in results if r is not None and r.steps]
            if not results:
                continue
            rates, deliv, p99 = _median_by_rate(results)
            offered = [x * size for x in rates]
            color = COLORS[target]
            ax_d.plot(offered, deliv, "o-", color=color, label=target)
            ax_p.plot(
                offered,
                p99,
                "o-",
                color=color,
                label=target,
            )
        lo = min(line.get_xdata().min() for line in ax_d.get_lines()) if ax_d.get_lines() else 1
        hi = max(line.get_xdata().max() for line in ax_d.get_lines()) if ax_d.get_lines() else 10
        ax_d.plot([lo, hi], [lo, hi], ":", color="grey", label="offered = delivered")
        for ax in (ax_d, ax_p):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("offered load (deliveries/s = msgs/s x sockets)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        ax_p.axhline(p99_limit_ms, color="grey", linestyle="--", linewidth=1)
        ax_d.set_ylabel("deliveries/s")
        ax_p.set_ylabel("p99 latency (ms)")
        ax_d.set_title(f"{size}-socket room: throughput (median of repetitions)")
        ax_p.set_title(f"{size}-socket room: p99 (dashed: {p99_limit_ms:g} ms knee limit)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

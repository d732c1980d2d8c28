"""Which runs write the recorded chart (docs/bench.png): the full run only."""

from __future__ import annotations

import pytest

from bench.cli import config_from


def test_the_full_run_writes_the_recorded_chart():
    assert config_from(["--db-name", "taskflow_bench_x"]).default_chart is True


@pytest.mark.parametrize(
    "argv",
    [
        ["--quick"],
        ["--only", "ours"],
        ["--skip", "raw"],
        ["--rooms", "20"],
        ["--clients", "20"],
        ["--steps", "2", "--echo-seconds", "20"],
        ["--repeat", "1"],
    ],
)
def test_a_partial_or_quick_run_leaves_the_recorded_chart_alone(argv):
    assert config_from(argv).default_chart is False


def test_a_partial_run_writes_a_chart_where_plot_says():
    cfg = config_from(["--only", "ours", "--plot", "/tmp/ours.png"])
    assert (cfg.plot, cfg.default_chart) == ("/tmp/ours.png", False)

"""The our-vs-baseline verdict must not claim what a sweep cannot show."""

import pytest

from bench.report import StepResult
from bench.scenarios import SweepResult
from bench.summary import knee_ratio_verdict


def sweep(*steps: tuple[float, float, bool]) -> SweepResult:
    """Steps as (rate, deliveries/s, passed)."""
    result = SweepResult("t")
    for rate, per_s, ok in steps:
        result.steps.append(
            StepResult(
                target="t",
                rate=rate,
                seconds=1,
                sent=10,
                members=10,
                received=100 if ok else 50,
                deliveries_per_s=per_s,
                p50=1,
                p95=1,
                p99=1,
                max=1,
            )
        )
    return result


@pytest.mark.parametrize(
    ("ours", "bare", "expected"),
    [
        # both found their capacity: a plain comparison
        (sweep((10, 100, True), (20, 150, False)), sweep((10, 100, True), (20, 150, False)), True),
        (sweep((5, 50, True), (10, 60, False)), sweep((10, 100, True), (20, 150, False)), False),
        # ours failed everything the baseline passed
        (sweep((5, 50, False)), sweep((5, 50, True), (10, 90, False)), False),
        # the baseline never failed: its knee is a floor, so a high ratio proves nothing
        (sweep((10, 100, True), (20, 190, True)), sweep((10, 100, True), (20, 200, True)), None),
        # ours never failed but trails: ours may be higher, so a low ratio proves nothing
        (sweep((10, 70, True)), sweep((10, 100, True), (20, 190, False)), None),
        (sweep((5, 10, False)), sweep((5, 10, False)), None),
    ],
)
def test_knee_ratio_verdict(ours, bare, expected):
    ok, _why = knee_ratio_verdict(ours, bare, 0.8)
    assert ok is expected


def test_a_knee_with_a_failed_step_above_is_not_a_floor():
    assert not sweep((10, 100, True), (20, 120, False)).knee_is_floor
    assert sweep((10, 100, True), (20, 200, True)).knee_is_floor
